/// A FHIRPath Date or DateTime: a calendar date, possibly partial (`@2024`, `@2024-03`), possibly with
/// a time of day and a UTC offset. Components beyond `precision` are 1 (month, day) or 0 and mean nothing.
public struct FHIRPathDateTime: Sendable, Hashable, CustomStringConvertible {
    public enum Precision: Int, Sendable, Comparable {
        case year, month, day, hour, minute, second, millisecond

        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int
    public let millisecond: Int
    public let precision: Precision
    /// The offset written with the value (`Z` is 0); `nil` when none was, which means local time.
    public let utcOffsetSeconds: Int?

    public init(
        year: Int, month: Int = 1, day: Int = 1, hour: Int = 0, minute: Int = 0, second: Int = 0, millisecond: Int = 0,
        precision: Precision, utcOffsetSeconds: Int? = nil
    ) {
        self.year = year
        self.month = precision >= .month ? month : 1
        self.day = precision >= .day ? day : 1
        self.hour = precision >= .hour ? hour : 0
        self.minute = precision >= .minute ? minute : 0
        self.second = precision >= .second ? second : 0
        self.millisecond = precision >= .millisecond ? millisecond : 0
        self.precision = precision
        self.utcOffsetSeconds = precision >= .hour ? utcOffsetSeconds : nil
    }

    /// Reads FHIRPath literal text after `@` (`2024-01-31T10:30`, `2024T`) and FHIR JSON `date`,
    /// `dateTime` and `instant` values (`2024-01-31T10:30:00.000+02:00`). `nil` if malformed or out of range.
    public init?(_ text: String) {
        var reader = FHIRPathDateTimeReader(text)
        guard let year = reader.digits(4) else { return nil }
        var month = 1, day = 1
        var precision = Precision.year
        if reader.consume("-") {
            guard let value = reader.digits(2), (1...12).contains(value) else { return nil }
            month = value
            precision = .month
            if reader.consume("-") {
                guard let value = reader.digits(2), value >= 1, value <= CivilCalendar.daysIn(month: month, year: year) else { return nil }
                day = value
                precision = .day
            }
        }
        var time = FHIRPathTime(hour: 0, precision: .hour)
        var offset: Int? = nil
        if reader.consume("T") {
            if let parsed = reader.timeOfDay() {
                guard precision == .day else { return nil }
                time = parsed
                precision = Precision(time.precision)
            }
            if !reader.isAtEnd {
                guard let zone = reader.utcOffset() else { return nil }
                offset = zone
            }
        }
        guard reader.isAtEnd else { return nil }
        self.init(
            year: year, month: month, day: day, hour: time.hour, minute: time.minute, second: time.second,
            millisecond: time.millisecond, precision: precision, utcOffsetSeconds: offset)
    }

    /// Whether this is only a date (no time of day).
    public var isDateOnly: Bool { precision <= .day }

    /// The date part of a date and time.
    public var date: FHIRPathDateTime {
        FHIRPathDateTime(year: year, month: month, day: day, precision: min(precision, .day))
    }

    /// FHIRPath form: `2024-01-31`, `2024-01-31T10:30`, `2024-01-31T10:30:00.250+02:00`.
    public var description: String {
        var text = Self.padded(year, 4)
        if precision >= .month { text += "-" + Self.padded(month, 2) }
        if precision >= .day { text += "-" + Self.padded(day, 2) }
        guard precision >= .hour else { return text }
        text += "T" + Self.padded(hour, 2)
        if precision >= .minute { text += ":" + Self.padded(minute, 2) }
        if precision >= .second { text += ":" + Self.padded(second, 2) }
        if precision >= .millisecond { text += "." + Self.padded(millisecond, 3) }
        if let utcOffsetSeconds { text += Self.zone(utcOffsetSeconds) }
        return text
    }

    /// FHIR JSON form: a date as is; a time of day always with seconds (FHIR requires them).
    public var fhirText: String {
        guard precision >= .hour, precision < .second else { return description }
        let full = FHIRPathDateTime(
            year: year, month: month, day: day, hour: hour, minute: minute, second: 0, precision: .second, utcOffsetSeconds: utcOffsetSeconds)
        return full.description
    }

    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value.magnitude)
        return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    static func zone(_ seconds: Int) -> String {
        guard seconds != 0 else { return "Z" }
        let minutes = seconds.magnitude / 60
        return (seconds < 0 ? "-" : "+") + padded(Int(minutes / 60), 2) + ":" + padded(Int(minutes % 60), 2)
    }
}

extension FHIRPathDateTime.Precision {
    init(_ precision: FHIRPathTime.Precision) {
        switch precision {
        case .hour: self = .hour
        case .minute: self = .minute
        case .second: self = .second
        case .millisecond: self = .millisecond
        }
    }
}

/// A cursor over date and time text, shared by the date-time and time readers.
struct FHIRPathDateTimeReader {
    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    var isAtEnd: Bool { index == scalars.count }

    mutating func consume(_ scalar: Unicode.Scalar) -> Bool {
        guard index < scalars.count, scalars[index] == scalar else { return false }
        index += 1
        return true
    }

    mutating func digits(_ count: Int) -> Int? {
        guard index + count <= scalars.count else { return nil }
        var value = 0
        for offset in 0..<count {
            let scalar = scalars[index + offset]
            guard scalar >= "0", scalar <= "9" else { return nil }
            value = value * 10 + Int(scalar.value - 0x30)
        }
        index += count
        return value
    }

    /// `hh[:mm[:ss[.fff…]]]` with each part in range; `nil` (and nothing read) if no hour is there.
    mutating func timeOfDay() -> FHIRPathTime? {
        let start = index
        guard let hour = digits(2), hour < 24 else {
            index = start
            return nil
        }
        guard consume(":") else { return FHIRPathTime(hour: hour, precision: .hour) }
        guard let minute = digits(2), minute < 60 else { return nil }
        guard consume(":") else { return FHIRPathTime(hour: hour, minute: minute, precision: .minute) }
        guard let second = digits(2), second < 60 else { return nil }
        guard consume(".") else { return FHIRPathTime(hour: hour, minute: minute, second: second, precision: .second) }
        var millisecond = 0
        var count = 0
        while index < scalars.count, scalars[index] >= "0", scalars[index] <= "9" {
            if count < 3 { millisecond = millisecond * 10 + Int(scalars[index].value - 0x30) }
            count += 1
            index += 1
        }
        guard count > 0 else { return nil }
        for _ in count..<max(count, 3) { millisecond *= 10 }
        return FHIRPathTime(hour: hour, minute: minute, second: second, millisecond: millisecond, precision: .millisecond)
    }

    /// `Z`, `+hh:mm` or `-hh:mm`, in seconds.
    mutating func utcOffset() -> Int? {
        if consume("Z") { return 0 }
        let negative: Bool
        if consume("+") {
            negative = false
        } else if consume("-") {
            negative = true
        } else {
            return nil
        }
        guard let hours = digits(2), hours <= 14, consume(":"), let minutes = digits(2), minutes < 60 else { return nil }
        let seconds = (hours * 60 + minutes) * 60
        return negative ? -seconds : seconds
    }
}
