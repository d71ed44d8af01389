import BedsideCore
import Testing

@Suite("Local time zone: the offset of each instant")
struct LocalZoneTests {
    /// `YYYY-MM-DDTHH:MM:SSZ` as epoch milliseconds (the wall-clock fields read as UTC).
    func utc(_ text: String) throws -> Int64 { try #require(FHIRDateTime(text)?.lowerBound) }

    @Test("Amsterdam: +01:00 in winter, +02:00 in summer, whatever the date today")
    func amsterdam() throws {
        let zone = try #require(LocalZone(identifier: "Europe/Amsterdam"))
        #expect(zone.offset(at: try utc("2026-12-04T12:00:00Z")) == 3600)
        #expect(zone.offset(at: try utc("2026-07-01T07:00:00Z")) == 7200)
        let july = zone.instant(wallClock: try utc("2026-07-01T09:00:00Z"))
        #expect(july.epochMilliseconds == (try utc("2026-07-01T07:00:00Z")))
        #expect(july.utcOffsetSeconds == 7200)
        let december = zone.instant(wallClock: try utc("2026-12-24T09:00:00Z"))
        #expect(december.epochMilliseconds == (try utc("2026-12-24T08:00:00Z")))
        #expect(december.utcOffsetSeconds == 3600)
    }

    @Test("New York, west of UTC: -04:00 in summer, -05:00 in winter")
    func newYork() throws {
        let zone = try #require(LocalZone(identifier: "America/New_York"))
        let july = zone.instant(wallClock: try utc("2026-07-01T09:00:00Z"))
        #expect(july.epochMilliseconds == (try utc("2026-07-01T13:00:00Z")))
        #expect(july.utcOffsetSeconds == -14_400)
        #expect(zone.instant(wallClock: try utc("2026-01-15T09:00:00Z")).utcOffsetSeconds == -18_000)
    }

    @Test("the hour skipped in spring is read with the offset before it; the hour repeated in autumn is its first time")
    func changes() throws {
        let zone = try #require(LocalZone(identifier: "Europe/Amsterdam"))
        // 29 March 2026: 02:00 becomes 03:00. 02:30 does not exist; it is read as 03:30 summer time.
        let skipped = zone.instant(wallClock: try utc("2026-03-29T02:30:00Z"))
        #expect(skipped.epochMilliseconds == (try utc("2026-03-29T01:30:00Z")))
        #expect(skipped.utcOffsetSeconds == 7200)
        // 25 October 2026: 03:00 becomes 02:00 again. 02:30 happens twice; the first is summer time.
        let repeated = zone.instant(wallClock: try utc("2026-10-25T02:30:00Z"))
        #expect(repeated.epochMilliseconds == (try utc("2026-10-25T00:30:00Z")))
        #expect(repeated.utcOffsetSeconds == 7200)
        // Either side of the changes, nothing unusual.
        #expect(zone.instant(wallClock: try utc("2026-03-29T01:30:00Z")).utcOffsetSeconds == 3600)
        #expect(zone.instant(wallClock: try utc("2026-10-25T03:30:00Z")).utcOffsetSeconds == 3600)
    }

    @Test("a fixed offset is the same all year; absurd instants do not trap")
    func fixed() {
        let zone = LocalZone.fixed(3600)
        #expect(zone.offset(at: 0) == 3600)
        #expect(zone.offset(at: Int64.max) == 3600)
        #expect(zone.instant(wallClock: Int64.min).utcOffsetSeconds == 3600)
        #expect(LocalZone.fixed(Int.max).offset(at: 0) == 18 * 3600)
    }
}
