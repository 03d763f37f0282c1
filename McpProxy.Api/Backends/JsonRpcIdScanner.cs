using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// Finds the top-level <c>id</c> of a JSON-RPC message, and whether it is a response (top-level <c>result</c> or
/// <c>error</c>), from its bytes fed in pieces — so a message too large to hold can still be answered for the right
/// request while it is being discarded. Hand-written (System.Text.Json's reader needs a whole token in memory, and a
/// token can be the oversized string itself): it only tracks strings, escapes and nesting depth.
/// </summary>
internal sealed class JsonRpcIdScanner
{
    private const int MaxIdBytes = 1024;
    private const int MaxKeyBytes = 16;

    private readonly byte[] _key = new byte[MaxKeyBytes];
    private readonly List<byte> _id = [];
    private int _depth;
    private bool _inString;
    private bool _escape;
    private bool _expectKey;
    private bool _readingKey;
    private int _keyLength;
    private bool _keyTooLong;
    private bool _capturingId;
    private bool _idTooLong;

    /// <summary>The message has a top-level <c>result</c> or <c>error</c>.</summary>
    public bool IsResponse { get; private set; }

    /// <summary>The top-level <c>id</c>, when it was found and is a valid JSON-RPC id.</summary>
    public RequestId? Id
    {
        get
        {
            if (_id.Count == 0 || _idTooLong)
            {
                return null;
            }

            try
            {
                return JsonSerializer.Deserialize<RequestId>(_id.ToArray(), McpJsonUtilities.DefaultOptions);
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }

    public void Feed(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            Step(b);
        }
    }

    private void Step(byte b)
    {
        if (_inString)
        {
            if (_readingKey)
            {
                if (!_escape && b == (byte)'"')
                {
                    _readingKey = false; // the key is kept until the ':' that follows it
                }
                else if (_keyLength < MaxKeyBytes)
                {
                    _key[_keyLength++] = b;
                }
                else
                {
                    _keyTooLong = true; // not a key we look for
                }
            }
            else
            {
                Capture(b);
            }

            if (_escape)
            {
                _escape = false;
            }
            else if (b == (byte)'\\')
            {
                _escape = true;
            }
            else if (b == (byte)'"')
            {
                _inString = false;
            }

            return;
        }

        switch (b)
        {
            case (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n':
                return;
            case (byte)'"':
                _inString = true;
                if (_depth == 1 && _expectKey)
                {
                    _readingKey = true;
                    _keyLength = 0;
                    _keyTooLong = false;
                }
                else
                {
                    Capture(b);
                }

                return;
            case (byte)'{' or (byte)'[':
                Capture(b);
                _depth++;
                _expectKey = _depth == 1 && b == (byte)'{';
                return;
            case (byte)'}' or (byte)']':
                if (_depth == 1)
                {
                    _capturingId = false;
                }
                else
                {
                    Capture(b);
                }

                _depth = Math.Max(0, _depth - 1);
                return;
            case (byte)':' when _depth == 1:
                _expectKey = false;
                _capturingId = KeyIs("id"u8);
                IsResponse |= KeyIs("result"u8) || KeyIs("error"u8);
                return;
            case (byte)',' when _depth == 1:
                _capturingId = false;
                _expectKey = true;
                return;
            default:
                Capture(b);
                return;
        }
    }

    private bool KeyIs(ReadOnlySpan<byte> name) => !_keyTooLong && _keyLength == name.Length && _key.AsSpan(0, _keyLength).SequenceEqual(name);

    private void Capture(byte b)
    {
        if (!_capturingId)
        {
            return;
        }

        if (_id.Count >= MaxIdBytes)
        {
            _idTooLong = true;
            return;
        }

        _id.Add(b);
    }
}
