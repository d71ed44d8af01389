import Testing

@testable import BedsideCore

/// Inputs the fuzzers found (Tests/Fuzz/Regressions), pinned as unit tests of the parser they broke.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    @Test("an HTTP Date with a year too long for the calendar is refused, not an overflow trap")
    func httpDateWithAnOverflowingYear() {
        // Found by the http-date target: CivilCalendar.days overflowed on the year and the client crashed.
        #expect(HTTPDate.parse("n$ 06 Nov -99991111111111111 2:0:7 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 99999999999999999 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777_000)
    }
}
