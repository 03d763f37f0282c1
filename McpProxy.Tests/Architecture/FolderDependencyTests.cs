using Mono.Cecil;
using Mono.Cecil.Cil;

namespace McpProxy.Tests.Architecture;

/// <summary>
/// The folders of McpProxy.Api (namespace <c>McpProxy.X</c> = folder <c>X</c>) depend on each other without a cycle
/// (issue 14, <c>LAYERS.md</c>): read from the compiled assembly, every type reference counts — fields, signatures, base
/// types and interfaces, attributes, and the type, method and field operands of method bodies. Compiler-generated
/// nested types (lambdas, async state machines) count for their outer type. Root types (<c>McpProxy.*</c> itself:
/// Program, McpProxyExtensions, ProxyCommandLine) may use every folder and are left out.
/// </summary>
public sealed class FolderDependencyTests
{
    [Fact]
    public void Folders_have_no_dependency_cycle()
    {
        var edges = FolderGraph(typeof(McpProxy.McpProxyExtensions).Assembly.Location);
        var cycle = FindCycle(edges);
        Assert.True(cycle is null, cycle is null ? "" : Describe(cycle, edges));
    }

    /// <summary>Folder → folder → an example (from type, to type) pair.</summary>
    private static Dictionary<string, Dictionary<string, (string From, string To)>> FolderGraph(string path)
    {
        using var module = ModuleDefinition.ReadModule(path);
        var edges = new Dictionary<string, Dictionary<string, (string, string)>>(StringComparer.Ordinal);
        foreach (var type in module.GetTypes())
        {
            var owner = Outermost(type);
            if (Folder(owner.Namespace) is not { } from)
            {
                continue;
            }

            foreach (var referenced in References(type))
            {
                if (Folder(referenced.Namespace) is { } to && to != from)
                {
                    var targets = edges.TryGetValue(from, out var t) ? t : edges[from] = new(StringComparer.Ordinal);
                    targets.TryAdd(to, (owner.FullName, referenced.FullName));
                }
            }
        }

        return edges;
    }

    /// <summary>The folder of a namespace: <c>McpProxy.X[.Y]</c> → X; null outside McpProxy.Api's folders.</summary>
    private static string? Folder(string ns)
    {
        if (!ns.StartsWith("McpProxy.", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = ns["McpProxy.".Length..];
        var dot = rest.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? rest : rest[..dot];
    }

    private static TypeDefinition Outermost(TypeDefinition type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }

        return type;
    }

    /// <summary>Every type a type refers to, each reduced to its outermost declaring type (generic arguments and element types unwrapped).</summary>
    private static IEnumerable<TypeReference> References(TypeDefinition type)
    {
        var found = new List<TypeReference>();
        void Add(TypeReference? reference)
        {
            switch (reference)
            {
                case null:
                    return;
                case GenericInstanceType generic:
                    Add(generic.ElementType);
                    foreach (var argument in generic.GenericArguments)
                    {
                        Add(argument);
                    }

                    return;
                case TypeSpecification specification:
                    Add(specification.ElementType);
                    return;
                case GenericParameter:
                    return;
            }

            while (reference.DeclaringType is { } outer)
            {
                reference = outer;
            }

            found.Add(reference);
        }

        void Attributes(ICustomAttributeProvider provider)
        {
            foreach (var attribute in provider.CustomAttributes)
            {
                Add(attribute.AttributeType);
                foreach (var argument in attribute.ConstructorArguments)
                {
                    Add(argument.Type);
                    Add(argument.Value as TypeReference);
                }
            }
        }

        void Method(MethodReference method)
        {
            Add(method.DeclaringType);
            Add(method.ReturnType);
            foreach (var parameter in method.Parameters)
            {
                Add(parameter.ParameterType);
            }

            if (method is GenericInstanceMethod generic)
            {
                foreach (var argument in generic.GenericArguments)
                {
                    Add(argument);
                }
            }
        }

        Add(type.BaseType);
        foreach (var implemented in type.Interfaces)
        {
            Add(implemented.InterfaceType);
        }

        Attributes(type);
        foreach (var field in type.Fields)
        {
            Add(field.FieldType);
            Attributes(field);
        }

        foreach (var property in type.Properties)
        {
            Add(property.PropertyType);
            Attributes(property);
        }

        foreach (var @event in type.Events)
        {
            Add(@event.EventType);
        }

        foreach (var method in type.Methods)
        {
            Method(method);
            Attributes(method);
            foreach (var parameter in method.Parameters)
            {
                Attributes(parameter);
            }

            if (!method.HasBody)
            {
                continue;
            }

            foreach (var variable in method.Body.Variables)
            {
                Add(variable.VariableType);
            }

            foreach (var instruction in method.Body.Instructions)
            {
                switch (instruction.Operand)
                {
                    case TypeReference t:
                        Add(t);
                        break;
                    case MethodReference m:
                        Method(m);
                        break;
                    case FieldReference f:
                        Add(f.DeclaringType);
                        Add(f.FieldType);
                        break;
                }
            }
        }

        return found;
    }

    /// <summary>A cycle as a list of folders (first = last), or null.</summary>
    private static List<string>? FindCycle(Dictionary<string, Dictionary<string, (string, string)>> edges)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the stack, 2 done
        var stack = new List<string>();

        List<string>? Visit(string folder)
        {
            state[folder] = 1;
            stack.Add(folder);
            foreach (var next in edges.TryGetValue(folder, out var targets) ? targets.Keys.Order(StringComparer.Ordinal).ToList() : [])
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    return [.. stack[stack.IndexOf(next)..], next];
                }

                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            stack.RemoveAt(stack.Count - 1);
            state[folder] = 2;
            return null;
        }

        foreach (var folder in edges.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(folder) == 0 && Visit(folder) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }

    private static string Describe(List<string> cycle, Dictionary<string, Dictionary<string, (string From, string To)>> edges)
    {
        var lines = new List<string> { "Folder dependency cycle: " + string.Join(" → ", cycle) };
        for (var i = 0; i < cycle.Count - 1; i++)
        {
            var (from, to) = edges[cycle[i]][cycle[i + 1]];
            lines.Add($"  {cycle[i]} → {cycle[i + 1]}: {from} uses {to}");
        }

        lines.Add("All folder edges:");
        foreach (var (from, targets) in edges.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            lines.Add($"  {from} → {string.Join(", ", targets.Keys.Order(StringComparer.Ordinal))}");
        }

        return string.Join(Environment.NewLine, lines);
    }
}
