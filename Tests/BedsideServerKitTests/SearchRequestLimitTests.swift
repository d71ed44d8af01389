import Testing

@testable import BedsideServerKit

/// Found by the server fuzz target (Tests/Fuzz/Regressions/server): a search naming about 500 codes
/// built an SQL expression deeper than SQLite allows and was answered 500.
@Suite("Search request limits")
struct SearchRequestLimitTests {
    func codes(_ count: Int) -> [(String, String)] {
        [("patient", "p1"), ("code", (0..<count).map { "http://loinc.org|\($0)" }.joined(separator: ","))]
    }

    @Test("more values in one parameter than the limit is a 400 too-costly naming the parameter")
    func tooManyValues() {
        #expect {
            try SearchRequest.parse(type: .observation, parameters: codes(SearchRequest.maximumValuesPerParameter + 1))
        } throws: { error in
            guard case .badRequest(_, let expression, let code)? = error as? ServerError else { return false }
            return expression == "code" && code == "too-costly"
        }
    }

    @Test("the limit itself is still a search")
    func atTheLimit() throws {
        let query = try SearchRequest.parse(type: .observation, parameters: codes(SearchRequest.maximumValuesPerParameter))
        #expect(query.codes.first?.count == SearchRequest.maximumValuesPerParameter)
    }

    @Test("more parameters than the limit is a 400 too-costly")
    func tooManyParameters() {
        let parameters = Array(repeating: ("date", "ge2026-11-01"), count: SearchRequest.maximumParameters + 1)
        #expect {
            try SearchRequest.parse(type: .observation, parameters: parameters)
        } throws: { error in
            guard case .badRequest(_, _, let code)? = error as? ServerError else { return false }
            return code == "too-costly"
        }
    }
}
