using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using McpProxy.Configuration;
using ModelContextProtocol;

namespace McpProxy.Mrtr;

/// <summary>What a <c>requestState</c> the proxy issued stands for.</summary>
internal enum StateKind
{
    /// <summary>A modern backend's own <c>input_required</c>, passed through: any replica finishes it (stateless).</summary>
    Pass,
    /// <summary>A legacy backend's server→client request, parked on the replica that owns the backend call.</summary>
    Bridge,
}

/// <summary>
/// The sealed content of a proxy <c>requestState</c>: the kind, the owner replica and exchange (bridge), the backend,
/// method and item, the caller, the expiry, and the backend's own state (pass-through) — all inside the AEAD.
/// </summary>
internal sealed record MrtrState
{
    [JsonPropertyName("k")] public StateKind Kind { get; init; }
    [JsonPropertyName("r")] public string? Replica { get; init; }
    [JsonPropertyName("x")] public string? Exchange { get; init; }
    [JsonPropertyName("b")] public required string Backend { get; init; }
    [JsonPropertyName("m")] public required string Method { get; init; }
    [JsonPropertyName("n")] public required string Item { get; init; }
    [JsonPropertyName("c")] public required string Caller { get; init; }
    [JsonPropertyName("e")] public long ExpiresUnixMs { get; init; }
    [JsonPropertyName("s")] public string? BackendState { get; init; }
}

[JsonSerializable(typeof(MrtrState))]
[JsonSourceGenerationOptions(UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class MrtrStateJson : JsonSerializerContext;

/// <summary>
/// Seals and opens the <c>requestState</c> values the proxy issues (<c>[proxy.mrtr]</c>): <c>mpx1.{kid}.{base64url(nonce‖ciphertext‖tag)}</c>,
/// AES-256-GCM with a 12-byte random nonce and a 16-byte tag; the associated data binds the method. The plaintext names
/// the caller and the item by SHA-256 digests and carries an expiry (<see cref="TimeProvider"/>). The first configured
/// key seals, every configured key opens (rotation); with none, a random key per process. Anything that fails — a
/// foreign or altered value, an unknown key, another caller, method or item, an expired state — is refused with
/// <c>-32602</c> and never forwarded.
/// </summary>
internal sealed class RequestStateProtector
{
    public const string Prefix = "mpx1.";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly (string Kid, byte[] Key)[] _keys;
    private readonly TimeProvider _time;

    public RequestStateProtector(MrtrConfig config, TimeProvider time)
    {
        _time = time;
        Ttl = TimeSpan.FromSeconds(config.StateTtlSeconds);
        var keys = config.StateKeys.Where(k => k.Length > 0).Select(Convert.FromBase64String).ToList();
        Ephemeral = keys.Count == 0;
        if (Ephemeral)
        {
            keys.Add(RandomNumberGenerator.GetBytes(32));
        }

        _keys = [.. keys.Select(k => (Convert.ToHexStringLower(SHA256.HashData(k))[..8], k))];
    }

    /// <summary>No key configured: a random one for this process only (a state is then valid on this replica only).</summary>
    public bool Ephemeral { get; }

    /// <summary>How long a state stays valid (<c>state_ttl_seconds</c>).</summary>
    public TimeSpan Ttl { get; }

    /// <summary>The digest a state keeps of a caller or an item (never the value itself).</summary>
    public static string Digest(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..32];

    /// <summary>Seals <paramref name="state"/> with the first key; its expiry is set from now.</summary>
    public string Seal(MrtrState state)
    {
        state = state with { ExpiresUnixMs = _time.GetUtcNow().Add(Ttl).ToUnixTimeMilliseconds() };
        var plaintext = JsonSerializer.SerializeToUtf8Bytes(state, MrtrStateJson.Default.MrtrState);
        var (kid, key) = _keys[0];
        var sealedBytes = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceSize, plaintext.Length), sealedBytes.AsSpan(NonceSize + plaintext.Length), Associated(state.Method));
        return Prefix + kid + "." + Base64Url.EncodeToString(sealedBytes);
    }

    /// <summary>
    /// Opens a state the caller sent back on a retry of <paramref name="method"/> for <paramref name="item"/>; refuses
    /// (<c>-32602</c>) whatever fails verification or binding.
    /// </summary>
    public MrtrState Open(string value, string method, string item, string caller)
    {
        var state = TryDecrypt(value, method) ?? throw Refused("it was not issued by this proxy or was altered");
        if (state.Method != method || state.Item != Digest(item))
        {
            throw Refused("it was issued for another request");
        }

        if (state.Caller != Digest(caller))
        {
            throw Refused("it was issued to another caller");
        }

        if (_time.GetUtcNow().ToUnixTimeMilliseconds() >= state.ExpiresUnixMs)
        {
            throw Refused($"it has expired (valid for {Ttl.TotalSeconds:0} s)");
        }

        return state;
    }

    private MrtrState? TryDecrypt(string value, string method)
    {
        if (!value.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = value.AsSpan(Prefix.Length);
        var dot = rest.IndexOf('.');
        if (dot <= 0)
        {
            return null;
        }

        var kid = rest[..dot].ToString();
        var key = Array.Find(_keys, k => k.Kid == kid).Key;
        if (key is null)
        {
            return null;
        }

        byte[] sealedBytes;
        try
        {
            sealedBytes = Base64Url.DecodeFromChars(rest[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }

        if (sealedBytes.Length < NonceSize + TagSize)
        {
            return null;
        }

        var length = sealedBytes.Length - NonceSize - TagSize;
        var plaintext = new byte[length];
        try
        {
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, length), sealedBytes.AsSpan(NonceSize + length), plaintext, Associated(method));
            return JsonSerializer.Deserialize(plaintext, MrtrStateJson.Default.MrtrState);
        }
        catch (Exception ex) when (ex is AuthenticationTagMismatchException or CryptographicException or JsonException)
        {
            return null;
        }
    }

    private static byte[] Associated(string method) => Encoding.UTF8.GetBytes("mcp-proxy/requestState/v1|" + method);

    public static McpProtocolException Refused(string why) =>
        new($"Invalid requestState: {why}. Send the request again without requestState and inputResponses to start over.", McpErrorCode.InvalidParams);
}
