import BedsideCore

/// The languages every screen is written in. Chosen by `--lang`, else from `LANG`/`LC_ALL`, else English.
public enum Language: String, Sendable, CaseIterable, Codable {
    case en, nl, de

    /// From a POSIX locale name such as `nl_NL.UTF-8` or `de`.
    public init?(locale: String) {
        let code = locale.prefix(2).lowercased()
        guard let language = Language(rawValue: code) else { return nil }
        self = language
    }

    /// LC_ALL wins over LC_MESSAGES over LANG, as POSIX says.
    public static func fromEnvironment(_ environment: [String: String]) -> Language {
        for name in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let value = environment[name], !value.isEmpty {
                return Language(locale: value) ?? .en
            }
        }
        return .en
    }

    public var decimalSeparator: Character { self == .en ? "." : "," }

    /// A number as written here: `82.4` in English, `82,4` in Dutch and German.
    public func number(_ literal: String) -> String {
        self == .en ? literal : literal.replacingAll(".", with: ",")
    }

    /// Reads a number typed in this language. Both separators are accepted (a Dutch patient may type
    /// "82.4" too), but not thousands separators: no vital sign needs them, and "1.200" would be ambiguous.
    /// Returns the JSON literal ("82.4") or nil.
    public func parseNumber(_ typed: String) -> String? {
        let trimmed = typed.trimmingCharacters(in: " ")
        guard !trimmed.isEmpty, trimmed.count <= 12 else { return nil }
        let normalised = trimmed.replacingAll(",", with: ".")
        let parts = normalised.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigitOrMinus) else { return nil }
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit) else { return nil }
        }
        let sign = whole.hasPrefix("-") ? "-" : ""
        let digits = whole.drop { $0 == "-" }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), whole.filter({ $0 == "-" }).count <= 1, !whole.dropFirst().contains("-")
        else { return nil }
        var integer = String(digits.drop { $0 == "0" })
        if integer.isEmpty { integer = "0" }
        return parts.count == 2 ? "\(sign)\(integer).\(parts[1])" : "\(sign)\(integer)"
    }

    static let monthNames: [Language: [String]] = [
        .en: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
        .nl: ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
        .de: ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sep.", "Okt.", "Nov.", "Dez."],
    ]

    /// `23 Nov 2026` / `23 nov 2026` / `23. Nov. 2026`.
    public func date(epochMilliseconds: Int64, utcOffsetSeconds: Int) -> String {
        let parts = CivilTime(epochMilliseconds: epochMilliseconds, utcOffsetSeconds: utcOffsetSeconds)
        let month = Self.monthNames[self]?[parts.month - 1] ?? String(parts.month)
        switch self {
        case .de: return "\(parts.day). \(month) \(parts.year)"
        default: return "\(parts.day) \(month) \(parts.year)"
        }
    }

    /// `14:05`: 24-hour time in all three languages.
    public func time(epochMilliseconds: Int64, utcOffsetSeconds: Int) -> String {
        let parts = CivilTime(epochMilliseconds: epochMilliseconds, utcOffsetSeconds: utcOffsetSeconds)
        return "\(parts.hour < 10 ? "0" : "")\(parts.hour):\(parts.minute < 10 ? "0" : "")\(parts.minute)"
    }

    public func dateTime(epochMilliseconds: Int64, utcOffsetSeconds: Int) -> String {
        "\(date(epochMilliseconds: epochMilliseconds, utcOffsetSeconds: utcOffsetSeconds)) \(time(epochMilliseconds: epochMilliseconds, utcOffsetSeconds: utcOffsetSeconds))"
    }
}

/// A moment as calendar fields in a given offset.
public struct CivilTime: Sendable, Equatable {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int

    public init(epochMilliseconds: Int64, utcOffsetSeconds: Int) {
        let text = FHIRDateTime.format(epochMilliseconds: epochMilliseconds, utcOffsetSeconds: utcOffsetSeconds)
        let digits = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        year = digits.count > 0 ? digits[0] : 1970
        month = digits.count > 1 ? digits[1] : 1
        day = digits.count > 2 ? digits[2] : 1
        hour = digits.count > 3 ? digits[3] : 0
        minute = digits.count > 4 ? digits[4] : 0
    }

    /// `2026-11-23 14:05`, the form a patient edits a time in.
    public var editable: String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute))"
    }

    /// Reads `YYYY-MM-DD HH:MM` in the given offset; nil when it is not a real time.
    public static func parse(_ text: String, utcOffsetSeconds: Int) -> Int64? {
        let trimmed = text.trimmingCharacters(in: " ")
        let pieces = trimmed.split(separator: " ", omittingEmptySubsequences: true)
        guard pieces.count == 2, pieces[1].count == 5 else { return nil }
        let sign = utcOffsetSeconds < 0 ? "-" : "+"
        let magnitude = abs(utcOffsetSeconds)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let iso = "\(pieces[0])T\(pieces[1]):00\(sign)\(two(magnitude / 3600)):\(two(magnitude / 60 % 60))"
        guard let parsed = FHIRDateTime(iso), parsed.precision == .time else { return nil }
        return parsed.lowerBound
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIIDigitOrMinus: Bool { isASCIIDigit || self == "-" }
}

extension String {
    func replacingAll(_ target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
