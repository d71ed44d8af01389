import BedsideCore
import BedsideFuzzSupport

#if DEBUG || FUZZING
// SearchRequest and the router are internal to the server library; debug builds and the fuzz build
// (which passes -enable-testing) may reach them. A plain release build has no server targets.
@testable import BedsideServerKit

let serverTargets: [FuzzTarget] = [
    FuzzTarget("search", summary: "search-parameter parser: query string (percent-decoding, _has, dates, tokens) for each resource type", maximumLength: 1024) { bytes in
        guard let first = bytes.first else { return }
        let types = SupportedResource.allCases
        let type = types[Int(first) % types.count]
        let query = String(decoding: bytes.dropFirst(), as: UTF8.self)
        _ = try? SearchRequest.parse(type: type, parameters: SearchRequest.parameters(query: query))
    },
    FuzzTarget("server", summary: "the whole request handling in-process: method, path?query, headers, body in; an answer out", maximumLength: 16384) { bytes in
        InProcessServer.shared.check(FuzzedRequest(bytes))
    },
]
#else
let serverTargets: [FuzzTarget] = []
#endif
