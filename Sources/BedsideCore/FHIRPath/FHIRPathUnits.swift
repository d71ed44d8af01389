/// The units FHIRPath quantities can be converted between: calendar durations, and the UCUM units of
/// mass, length, volume and time that patient-entered measurements use. Not a UCUM parser: units
/// outside this table compare only with the very same unit.
enum FHIRPathUnits {
    static let ucumSystem = "http://unitsofmeasure.org"

    enum CalendarUnit: String, Sendable, CaseIterable {
        case year, month, week, day, hour, minute, second, millisecond

        /// The UCUM code of the same duration (for `year` and `month`, the UCUM mean year and month).
        var ucumCode: String {
            switch self {
            case .year: "a"
            case .month: "mo"
            case .week: "wk"
            case .day: "d"
            case .hour: "h"
            case .minute: "min"
            case .second: "s"
            case .millisecond: "ms"
            }
        }
    }

    /// The calendar unit a word names, singular or plural (`days` → `day`).
    static func calendarUnit(_ word: String) -> CalendarUnit? {
        if let unit = CalendarUnit(rawValue: word) { return unit }
        guard word.hasSuffix("s") else { return nil }
        return CalendarUnit(rawValue: String(word.dropLast()))
    }

    /// Unit → (what it measures, how many base units it is). Calendar weeks, days, hours, minutes, seconds
    /// and milliseconds are the same as their UCUM counterparts; years and months convert only between
    /// themselves, since UCUM's `a` and `mo` are mean lengths, not calendar ones.
    private static let table: [String: (dimension: String, factor: String)] = [
        "g": ("mass", "1"), "kg": ("mass", "1000"), "mg": ("mass", "0.001"), "ug": ("mass", "0.000001"),
        "[lb_av]": ("mass", "453.59237"), "[oz_av]": ("mass", "28.349523125"),
        "m": ("length", "1"), "km": ("length", "1000"), "cm": ("length", "0.01"), "mm": ("length", "0.001"),
        "[in_i]": ("length", "0.0254"), "[ft_i]": ("length", "0.3048"),
        "L": ("volume", "1"), "l": ("volume", "1"), "dL": ("volume", "0.1"), "mL": ("volume", "0.001"),
        "ms": ("time", "0.001"), "s": ("time", "1"), "min": ("time", "60"), "h": ("time", "3600"), "d": ("time", "86400"),
        "wk": ("time", "604800"),
        "millisecond": ("time", "0.001"), "second": ("time", "1"), "minute": ("time", "60"), "hour": ("time", "3600"),
        "day": ("time", "86400"), "week": ("time", "604800"),
        "year": ("calendar months", "12"), "month": ("calendar months", "1"),
        "a": ("mean year", "1"), "mo": ("mean month", "1"),
    ]

    /// `value` in `from` expressed in `to`; `nil` when they do not measure the same thing.
    static func convert(_ value: FHIRPathDecimal, from: String, to: String) -> FHIRPathDecimal? {
        if from == to { return value }
        guard let source = table[from], let target = table[to], source.dimension == target.dimension,
            let sourceFactor = FHIRPathDecimal(source.factor), let targetFactor = FHIRPathDecimal(target.factor),
            let base = value.multiplied(by: sourceFactor)
        else { return nil }
        return base.divided(by: targetFactor)
    }
}
