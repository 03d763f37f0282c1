using McpProxy.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;

namespace McpProxy.Tests.Security;

/// <summary>The pure rules behind the JWT <c>typ</c> check and the loopback admin rule, case by case.</summary>
public sealed class SecurityRuleTests
{
    [Theory]
    [InlineData("at+jwt", true)]
    [InlineData("AT+JWT", true)]
    [InlineData("application/at+jwt", true)]
    [InlineData("Application/AT+JWT", true)]
    [InlineData("JWT", true)]
    [InlineData("application/jwt", true)]
    [InlineData(null, true)] // no typ: a generic JWT
    [InlineData("", true)]
    [InlineData("dpop+jwt", false)]
    [InlineData("at+jwt ", false)]
    [InlineData("application/", false)]
    [InlineData("JOSE", false)]
    public void Default_token_types_are_access_tokens_and_generic_jwts(string? typ, bool accepted)
    {
        var types = new TokenTypes(McpProxy.Configuration.AuthConfig.DefaultTokenTypes);
        if (accepted)
        {
            Assert.Equal(typ ?? "", types.Validate(typ, null!, null!));
        }
        else
        {
            var refused = Assert.Throws<SecurityTokenInvalidTypeException>(() => types.Validate(typ, null!, null!));
            Assert.Equal(typ, refused.InvalidType);
        }
    }

    [Fact]
    public void Configured_token_types_replace_the_default_and_may_be_written_with_the_media_type_prefix()
    {
        var types = new TokenTypes(["application/at+jwt"]);
        Assert.Equal("at+jwt", types.Validate("at+jwt", null!, null!));
        Assert.Throws<SecurityTokenInvalidTypeException>(() => types.Validate("JWT", null!, null!));
        Assert.Throws<SecurityTokenInvalidTypeException>(() => types.Validate(null, null!, null!));
    }

    [Theory]
    [InlineData("Forwarded", true)]
    [InlineData("forwarded", true)]
    [InlineData("X-Forwarded-For", true)]
    [InlineData("x-forwarded-host", true)]
    [InlineData("X-Forwarded-Proto", true)]
    [InlineData("X-Real-IP", true)]
    [InlineData("X-Client-IP", true)]
    [InlineData("Via", true)]
    [InlineData("X-Original-For", true)]
    [InlineData("X-Forwarded", false)] // not a header any proxy sets
    [InlineData("Authorization", false)]
    [InlineData("Origin", false)]
    public void Forwarding_headers_mark_a_relayed_request(string header, bool relayed)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers[header] = "203.0.113.7";
        Assert.Equal(relayed, ForwardingHeaders.Present(context.Request));
    }
}
