using McpProxy.Backends.Sample;

return await SampleServer.RunAsync(args);
