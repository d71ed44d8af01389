import Foundation

/// The patient's time zone: the offset from UTC of every instant, daylight-saving time included.
///
/// An offset is never kept from start-up: a reading entered in December for a July morning in
/// Amsterdam is at +02:00, and one shown across the change in spring shows the time the clock on the
/// wall had then.
public struct LocalZone: Sendable, Equatable {
    let zone: TimeZone

    public init(_ zone: TimeZone) {
        self.zone = zone
    }

    /// The zone of this process (`TZ`, else the system's).
    public static var current: LocalZone { LocalZone(TimeZone.current) }

    /// One offset all year (tests, and times from a server that carry their own).
    public static func fixed(_ seconds: Int) -> LocalZone {
        LocalZone(TimeZone(secondsFromGMT: max(-18 * 3600, min(18 * 3600, seconds))) ?? TimeZone(secondsFromGMT: 0) ?? TimeZone.current)
    }

    /// A zone by its IANA name, e.g. `Europe/Amsterdam`; nil when the system does not know it.
    public init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.zone = zone
    }

    public var identifier: String { zone.identifier }

    /// The offset from UTC, in seconds, at `epochMilliseconds`.
    public func offset(at epochMilliseconds: Int64) -> Int {
        // Far outside any calendar a patient uses, the offset of the nearest sensible instant will do.
        let bounded = max(-62_135_596_800_000, min(253_402_300_799_000, epochMilliseconds))
        return zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(bounded) / 1000))
    }

    /// The instant a wall-clock time names in this zone, with its offset. `wallClock` is the time's
    /// calendar fields read as if they were UTC (what `CivilTime.parse(_:utcOffsetSeconds: 0)` gives).
    /// A time the clocks show twice (autumn) is the first of the two; one they skip (spring) is read with
    /// the offset before the change, so 02:30 on that night is 03:30 summer time.
    public func instant(wallClock: Int64) -> (epochMilliseconds: Int64, utcOffsetSeconds: Int) {
        let (before, _) = wallClock.subtractingReportingOverflow(43_200_000)
        let (after, _) = wallClock.addingReportingOverflow(43_200_000)
        let candidates = Set([offset(at: before), offset(at: after), offset(at: wallClock)])
        let consistent = candidates.compactMap { candidate -> (Int64, Int)? in
            let (instant, overflow) = wallClock.subtractingReportingOverflow(Int64(candidate) * 1000)
            guard !overflow, offset(at: instant) == candidate else { return nil }
            return (instant, candidate)
        }
        if let earliest = consistent.min(by: { $0.0 < $1.0 }) { return earliest }
        let skipped = offset(at: before)
        return (wallClock &- Int64(skipped) &* 1000, offset(at: wallClock &- Int64(skipped) &* 1000))
    }
}
