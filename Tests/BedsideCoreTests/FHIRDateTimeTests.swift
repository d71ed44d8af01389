import Testing

@testable import BedsideCore

@Suite("FHIR dates")
struct FHIRDateTimeTests {
    @Test("partial dates are ranges")
    func ranges() throws {
        let year = try #require(FHIRDateTime("2024"))
        #expect(year.lowerBound == 1_704_067_200_000)
        #expect(year.upperBound == 1_735_689_600_000)  // 2024 is a leap year: 366 days
        let month = try #require(FHIRDateTime("2026-02"))
        #expect(month.upperBound - month.lowerBound == 28 * 86_400_000)
        let day = try #require(FHIRDateTime("2026-11-23"))
        #expect(day.precision == .day)
        #expect(day.upperBound - day.lowerBound == 86_400_000)
    }

    @Test("times carry their offset")
    func offsets() throws {
        let amsterdam = try #require(FHIRDateTime("2026-11-23T10:15:00+01:00"))
        let utc = try #require(FHIRDateTime("2026-11-23T09:15:00Z"))
        #expect(amsterdam.lowerBound == utc.lowerBound)
        #expect(amsterdam.utcOffsetSeconds == 3600)
        let fraction = try #require(FHIRDateTime("2026-11-23T09:15:00.5Z"))
        #expect(fraction.lowerBound == utc.lowerBound + 500)
        let negative = try #require(FHIRDateTime("2026-11-23T04:15:00-05:00"))
        #expect(negative.lowerBound == utc.lowerBound)
    }

    @Test(
        "impossible or ambiguous values are refused",
        arguments: [
            "2026-02-29", "2026-13-01", "2026-11-31", "2026-11-23T10:15:00", "2026-11-23T24:00:00Z", "2026-11-23T10:15Z",
            "26-11-23", "2026-11-23T10:15:00+1:00", "2026-11-23 10:15:00Z", "", "2026-11-23T10:15:00.Z",
        ])
    func refused(_ text: String) {
        #expect(FHIRDateTime(text) == nil)
    }

    @Test("formatting round-trips, before and after 1970")
    func formatting() throws {
        for milliseconds: Int64 in [0, 1_795_000_000_123, -86_400_001, 951_782_400_000] {
            let text = FHIRDateTime.format(epochMilliseconds: milliseconds)
            #expect(FHIRDateTime(text)?.lowerBound == milliseconds)
            let local = FHIRDateTime.format(epochMilliseconds: milliseconds / 1000 * 1000, utcOffsetSeconds: -9000)
            #expect(FHIRDateTime(local)?.lowerBound == milliseconds / 1000 * 1000, "\(local)")
        }
        #expect(FHIRDateTime.format(epochMilliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }
}
