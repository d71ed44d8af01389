/// A FHIR `date`, `dateTime` or `instant`, kept as the range of time it stands for.
///
/// FHIR date search compares ranges ("2026-11" is the whole of November), so a value is a half-open
/// interval of epoch milliseconds. A time of day without an offset is rejected: FHIR requires one, and
/// guessing the zone of a medical measurement would be worse than refusing it.
public struct FHIRDateTime: Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Precision: Int, Sendable, Comparable {
        case year, month, day, time

        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Start of the range, milliseconds since 1970-01-01T00:00:00Z.
    public let lowerBound: Int64
    /// End of the range (exclusive).
    public let upperBound: Int64
    public let precision: Precision
    /// Offset from UTC in seconds, when the text gave one.
    public let utcOffsetSeconds: Int?
    /// The text as written.
    public let text: String

    public var description: String { text }

    /// Parses FHIR date/dateTime/instant syntax: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
    /// `YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)`. Dates without a time are taken in UTC.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        var index = 0

        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<digits {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
                index += 1
            }
            return value
        }
        func consume(_ character: Character) -> Bool {
            guard index < bytes.count, bytes[index] == character.asciiValue else { return false }
            index += 1
            return true
        }

        guard let year = number(4), year >= 1 else { return nil }
        var month = 1, day = 1
        var precision = Precision.year
        var milliseconds: Int64 = 0
        var offset: Int? = nil
        if consume("-") {
            guard let m = number(2), (1...12).contains(m) else { return nil }
            month = m
            precision = .month
            if consume("-") {
                guard let d = number(2), d >= 1, d <= CivilCalendar.daysIn(month: month, year: year) else { return nil }
                day = d
                precision = .day
                if consume("T") {
                    guard let hour = number(2), hour < 24, consume(":"),
                        let minute = number(2), minute < 60, consume(":"),
                        let second = number(2), second < 60
                    else { return nil }
                    milliseconds = Int64((hour * 60 + minute) * 60 + second) * 1000
                    if consume(".") {
                        var digits = 0
                        var fraction = 0
                        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                            if digits < 3 { fraction = fraction * 10 + Int(bytes[index] - 0x30) }
                            digits += 1
                            index += 1
                        }
                        guard digits > 0, digits <= 9 else { return nil }
                        if digits < 3 { for _ in digits..<3 { fraction *= 10 } }
                        milliseconds += Int64(fraction)
                    }
                    if consume("Z") {
                        offset = 0
                    } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                        let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                        index += 1
                        guard let oh = number(2), oh <= 14, consume(":"), let om = number(2), om < 60 else { return nil }
                        offset = sign * (oh * 3600 + om * 60)
                    } else {
                        return nil
                    }
                    precision = .time
                }
            }
        }
        guard index == bytes.count else { return nil }

        let days = CivilCalendar.days(year: year, month: month, day: day)
        let start = Int64(days) * 86_400_000 + milliseconds - Int64(offset ?? 0) * 1000
        let end: Int64
        switch precision {
        case .year:
            end = Int64(CivilCalendar.days(year: year + 1, month: 1, day: 1)) * 86_400_000
        case .month:
            let next = month == 12 ? (year + 1, 1) : (year, month + 1)
            end = Int64(CivilCalendar.days(year: next.0, month: next.1, day: 1)) * 86_400_000
        case .day:
            end = start + 86_400_000
        case .time:
            end = start + 1
        }
        self.lowerBound = start
        self.upperBound = end
        self.precision = precision
        self.utcOffsetSeconds = offset
        self.text = text
    }

    /// An instant at millisecond precision, written in UTC (`2026-11-23T10:15:00.123Z`).
    public init(epochMilliseconds: Int64) {
        self.lowerBound = epochMilliseconds
        self.upperBound = epochMilliseconds + 1
        self.precision = .time
        self.utcOffsetSeconds = 0
        self.text = FHIRDateTime.format(epochMilliseconds: epochMilliseconds)
    }

    /// `2026-11-23T10:15:00.123Z`.
    public static func format(epochMilliseconds: Int64) -> String {
        let days = CivilCalendar.floorDivide(epochMilliseconds, 86_400_000)
        let msOfDay = epochMilliseconds - days * 86_400_000
        let (year, month, day) = CivilCalendar.date(fromDays: Int(days))
        let hour = Int(msOfDay / 3_600_000)
        let minute = Int(msOfDay / 60_000 % 60)
        let second = Int(msOfDay / 1000 % 60)
        let millis = Int(msOfDay % 1000)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millis, 3))Z"
    }

    /// `2026-11-23T10:15:00+01:00`: a time with the given offset from UTC, at second precision.
    public static func format(epochMilliseconds: Int64, utcOffsetSeconds offset: Int) -> String {
        let local = epochMilliseconds + Int64(offset) * 1000
        let days = CivilCalendar.floorDivide(local, 86_400_000)
        let msOfDay = local - days * 86_400_000
        let (year, month, day) = CivilCalendar.date(fromDays: Int(days))
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(Int(msOfDay / 3_600_000), 2)):"
            + "\(pad(Int(msOfDay / 60_000 % 60), 2)):\(pad(Int(msOfDay / 1000 % 60), 2))"
            + "\(sign)\(pad(magnitude / 3600, 2)):\(pad(magnitude / 60 % 60, 2))"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

}
