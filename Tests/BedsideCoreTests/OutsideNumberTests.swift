import Testing

@testable import BedsideCore

/// Numbers a server sends (headers, dates) are outside input: absurd ones are refused or clamped,
/// never trap. `Int(someDouble)` and unchecked arithmetic trap even in release builds.
@Suite("Absurd numbers from a server")
struct OutsideNumberTests {
    @Test("Retry-After is whole seconds, clamped to a day; anything else is ignored")
    func retryAfter() {
        #expect(RetryAfter.seconds("120") == 120)
        #expect(RetryAfter.seconds(" 7 ") == 7)
        #expect(RetryAfter.seconds("9223372036854775807") == RetryAfter.maximumSeconds)
        #expect(RetryAfter.seconds("99999999999999999999999999") == RetryAfter.maximumSeconds)
        #expect(RetryAfter.seconds("-5") == nil)
        #expect(RetryAfter.seconds("1e30") == nil)
        #expect(RetryAfter.seconds("NaN") == nil)
        #expect(RetryAfter.seconds("") == nil)
        #expect(RetryAfter.seconds(String(repeating: "9", count: 100_000)) == RetryAfter.maximumSeconds)
    }

    @Test("the back-off survives any Retry-After the caller passes on")
    func retryPolicyClamps() {
        let policy = RetryPolicy.standard
        let longest = Int64(RetryAfter.maximumSeconds) * 1000
        #expect(policy.delay(afterFailures: 1, retryAfterSeconds: Int.max, randomUnit: 0.5) == longest)
        #expect(policy.delay(afterFailures: Int.max, retryAfterSeconds: Int.max, randomUnit: .nan) == longest)
        #expect(policy.delay(afterFailures: Int.min, retryAfterSeconds: Int.min, randomUnit: .infinity) >= policy.floorMilliseconds)
        #expect(policy.delay(afterFailures: 3, retryAfterSeconds: nil, randomUnit: .nan) == policy.floorMilliseconds)
    }

    @Test("an HTTP date has a four-digit year; year 99999 and longer numbers are not dates")
    func httpDateYears() {
        #expect(HTTPDate.parse("Fri, 31 Dec 9999 23:59:59 GMT") != nil)
        #expect(HTTPDate.parse("Fri, 31 Dec 99999 23:59:59 GMT") == nil)
        #expect(HTTPDate.parse("Fri, 31 Dec 9223372036854775807 23:59:59 GMT") == nil)
        #expect(HTTPDate.parse("Fri, 31 Dec -9223372036854775807 23:59:59 GMT") == nil)
        #expect(HTTPDate.parse("Fri, 31 Dec 0999 23:59:59 GMT") == nil, "before 1000 is no server's clock")
        #expect(HTTPDate.parse("Fri, 31 Dec 2026 23:59:59999999999999999999 GMT") == nil)
    }
}
