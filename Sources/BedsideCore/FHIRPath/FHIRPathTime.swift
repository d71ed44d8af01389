/// A FHIRPath Time: a time of day without a date or zone, possibly partial (`@T10`, `@T10:30`).
public struct FHIRPathTime: Sendable, Hashable, CustomStringConvertible {
    public enum Precision: Int, Sendable, Comparable {
        case hour, minute, second, millisecond

        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public let hour: Int
    public let minute: Int
    public let second: Int
    public let millisecond: Int
    public let precision: Precision

    public init(hour: Int, minute: Int = 0, second: Int = 0, millisecond: Int = 0, precision: Precision) {
        self.hour = hour
        self.minute = precision >= .minute ? minute : 0
        self.second = precision >= .second ? second : 0
        self.millisecond = precision >= .millisecond ? millisecond : 0
        self.precision = precision
    }

    /// Reads `10`, `10:30`, `10:30:00` or `10:30:00.250` (the text after `@T`, or a FHIR `time`).
    public init?(_ text: String) {
        var reader = FHIRPathDateTimeReader(text)
        guard let time = reader.timeOfDay(), reader.isAtEnd else { return nil }
        self = time
    }

    public var description: String {
        var text = FHIRPathDateTime.padded(hour, 2)
        if precision >= .minute { text += ":" + FHIRPathDateTime.padded(minute, 2) }
        if precision >= .second { text += ":" + FHIRPathDateTime.padded(second, 2) }
        if precision >= .millisecond { text += "." + FHIRPathDateTime.padded(millisecond, 3) }
        return text
    }

    /// FHIR JSON form, which always has seconds.
    public var fhirText: String {
        precision >= .second ? description : FHIRPathTime(hour: hour, minute: minute, precision: .second).description
    }

    /// The components down to `precision`, seconds and milliseconds counting as one (FHIRPath compares
    /// `10:00:00` and `10:00:00.000` as equal).
    var comparableComponents: [Int] {
        let all = [hour, minute, second * 1000 + millisecond]
        return Array(all.prefix(min(precision, .second).rawValue + 1))
    }
}
