import Testing

@testable import BedsideCore

@Suite("Retry policy and server time")
struct SyncTimingTests {
    @Test("the bound doubles from 2 s and stops at 5 min; the draw is full jitter above a 1 s floor")
    func retryPolicy() {
        let policy = RetryPolicy.standard
        #expect((1...9).map { policy.bound(afterFailures: $0) } == [2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000])
        #expect(policy.bound(afterFailures: 500) == 300_000, "no overflow after many failures")
        #expect(policy.delay(afterFailures: 3, retryAfterSeconds: nil, randomUnit: 0.5) == 4_000)
        #expect(policy.delay(afterFailures: 3, retryAfterSeconds: nil, randomUnit: 0) == 1_000)
        #expect(policy.delay(afterFailures: 3, retryAfterSeconds: nil, randomUnit: 0.999_999) < 8_000)
        #expect(policy.delay(afterFailures: 1, retryAfterSeconds: 30, randomUnit: 0.5) == 30_000, "Retry-After wins when longer")
        #expect(policy.delay(afterFailures: 20, retryAfterSeconds: 1, randomUnit: 0.5) == 150_000, "and the back-off when that is longer")
    }

    @Test("HTTP dates parse to the epoch; anything else is nil")
    func httpDate() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777_000)
        #expect(HTTPDate.parse("Mon, 23 Nov 2026 10:00:00 GMT") == FHIRDateTime("2026-11-23T10:00:00Z")?.lowerBound)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        #expect(HTTPDate.parse("") == nil)
    }

    @Test("one HTTP-date type writes what it reads: the server's Last-Modified and Date, with weekdays, leap days and times before 1970")
    func httpDateFormat() throws {
        #expect(HTTPDate.format(epochMilliseconds: 784_111_777_999) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochMilliseconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochMilliseconds: try #require(FHIRDateTime("2028-02-29T23:59:59Z")).lowerBound) == "Tue, 29 Feb 2028 23:59:59 GMT")
        #expect(HTTPDate.format(epochMilliseconds: -1) == "Wed, 31 Dec 1969 23:59:59 GMT")
        for extreme in [Int64.min, -30_610_224_000_001, 253_402_300_800_000, .max] {
            #expect(HTTPDate.parse(HTTPDate.format(epochMilliseconds: extreme)) != nil, "clamped to a four-digit year: \(extreme)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let instant = Int64.random(in: -30_000_000_000_000...250_000_000_000_000, using: &generator) / 1000 * 1000
            #expect(HTTPDate.parse(HTTPDate.format(epochMilliseconds: instant)) == instant, "\(instant)")
        }
    }
}
