namespace McpProxy.Configuration;

/// <summary>
/// Marks a config property whose value is a secret, or may carry one (tokens, environment values, command-line
/// arguments, injected argument values): wherever the config is shown (<c>/admin/config</c>) every value in it is
/// replaced by <c>[redacted]</c>, keeping only its shape (map keys, list length). A new secret key gets the attribute
/// and is redacted everywhere; nothing else needs to know its name.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = true)]
public sealed class SecretAttribute : Attribute;
