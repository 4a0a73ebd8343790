export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, Counter, registerRootContext, FilterHeadersStatusValues,
  GrpcStatusValues, HeaderPair, Headers, LogLevelValues, log, send_local_response, stream_context
} from "@solo-io/proxy-runtime";

// The configuration is the name of the header every request must carry.
class RequireHeaderRoot extends RootContext {
  denied: Counter = new Counter("require_header_denied");

  createContext(context_id: u32): Context {
    return new RequireHeader(context_id, this);
  }

  headerName(): string {
    const configured = this.getConfiguration();
    return configured == "" ? "x-api-key" : configured;
  }
}

class RequireHeader extends Context {
  constructor(context_id: u32, root_context: RequireHeaderRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = this.root_context as RequireHeaderRoot;
    const name = root.headerName();
    if (stream_context.headers.request.get(name) == "") {
      log(LogLevelValues.warn, "missing " + name + ": answering 403");
      root.denied.increment(1);
      let headers: Headers = [];
      headers.push(new HeaderPair(String.UTF8.encode("x-denied-by"), String.UTF8.encode("require-header")));
      send_local_response(403, "missing_" + name, String.UTF8.encode("missing header " + name + "\n"),
        headers, GrpcStatusValues.InvalidCode);
      return FilterHeadersStatusValues.StopIteration;
    }
    stream_context.headers.request.replace("x-auth-checked", "true");
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    // Runs on the upstream's response and on the local 403 alike, as in Envoy.
    stream_context.headers.response.add("x-required-header", (this.root_context as RequireHeaderRoot).headerName());
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => { return new RequireHeaderRoot(context_id); }, "require_header");
