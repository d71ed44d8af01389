/// The explicit conversions (`toInteger()` …): each gives the converted value, or `nil` when the
/// value does not convert, which the `convertsTo…()` functions report as `false`.
enum FHIRPathConversion {
    static func toBoolean(_ value: FHIRPathValue) -> FHIRPathValue? {
        switch value {
        case .boolean: return value
        case .integer(let integer): return integer == 1 ? .boolean(true) : (integer == 0 ? .boolean(false) : nil)
        case .decimal(let decimal):
            return decimal == FHIRPathDecimal(1) ? .boolean(true) : (decimal.isZero ? .boolean(false) : nil)
        case .string(let text):
            switch text.lowercased() {
            case "true", "t", "yes", "y", "1", "1.0": return .boolean(true)
            case "false", "f", "no", "n", "0", "0.0": return .boolean(false)
            default: return nil
            }
        default: return nil
        }
    }

    static func toInteger(_ value: FHIRPathValue) -> FHIRPathValue? {
        switch value {
        case .integer: return value
        case .boolean(let flag): return .integer(flag ? 1 : 0)
        case .string(let text): return isNumber(text, allowingFraction: false) ? Int(text).map(FHIRPathValue.integer) : nil
        default: return nil
        }
    }

    static func toDecimal(_ value: FHIRPathValue) -> FHIRPathValue? {
        switch value {
        case .decimal: return value
        case .integer(let integer): return .decimal(FHIRPathDecimal(integer))
        case .boolean(let flag): return .decimal(FHIRPathDecimal(significand: flag ? 10 : 0, scale: 1))
        case .string(let text): return isNumber(text, allowingFraction: true) ? FHIRPathDecimal(text).map(FHIRPathValue.decimal) : nil
        default: return nil
        }
    }

    static func toString(_ value: FHIRPathValue) -> FHIRPathValue? {
        switch value {
        case .string: value
        case .boolean(let flag): .string(flag ? "true" : "false")
        case .integer(let integer): .string(String(integer))
        case .decimal(let decimal): .string(decimal.description)
        case .date(let date), .dateTime(let date): .string(date.description)
        case .time(let time): .string(time.description)
        case .quantity(let quantity): .string(quantity.description)
        case .element: nil
        }
    }

    static func toDate(_ value: FHIRPathValue) -> FHIRPathValue? {
        switch value {
        case .date: value
        case .dateTime(let dateTime): .date(dateTime.date)
        case .string(let text): FHIRPathDateTime(text).flatMap { $0.isDateOnly ? .date($0) : nil }
        default: nil
        }
    }

    static func toDateTime(_ value: FHIRPathValue) -> FHIRPathValue? {
        switch value {
        case .dateTime: value
        case .date(let date): .dateTime(date)
        case .string(let text): FHIRPathDateTime(text).map(FHIRPathValue.dateTime)
        default: nil
        }
    }

    static func toTime(_ value: FHIRPathValue) -> FHIRPathValue? {
        switch value {
        case .time: value
        case .string(let text): FHIRPathTime(text).map(FHIRPathValue.time)
        default: nil
        }
    }

    /// Numbers get the unit `'1'`; strings such as `5 'kg'` or `3 days` are read; with `unit`, the
    /// quantity is converted to it (and does not convert if the units measure different things).
    static func toQuantity(_ value: FHIRPathValue, unit: String?) -> FHIRPathValue? {
        let quantity: FHIRPathQuantity?
        switch value {
        case .integer, .decimal: quantity = value.decimalValue.map { FHIRPathQuantity(value: $0, unit: "1") }
        case .boolean(let flag): quantity = FHIRPathQuantity(value: FHIRPathDecimal(flag ? 1 : 0), unit: "1")
        case .string(let text): quantity = parseQuantity(text)
        default: quantity = value.quantityValue
        }
        guard let quantity else { return nil }
        guard let unit else { return .quantity(quantity) }
        return quantity.converted(to: unit).map(FHIRPathValue.quantity)
    }

    /// `[+-]digits[.digits]`.
    static func isNumber(_ text: String, allowingFraction: Bool) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        if let first = scalars.first, first == "+" || first == "-" { scalars = scalars.dropFirst() }
        let parts = scalars.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || (allowingFraction && parts.count == 2) else { return false }
        return parts.allSatisfy { part in !part.isEmpty && part.allSatisfy { $0 >= "0" && $0 <= "9" } }
    }

    /// `5`, `5 'kg'` or `3 days`: a number, then optionally a quoted UCUM code or a calendar word.
    private static func parseQuantity(_ text: String) -> FHIRPathQuantity? {
        let trimmed = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let number = trimmed.first, isNumber(String(number), allowingFraction: true), let value = FHIRPathDecimal(number) else { return nil }
        guard trimmed.count == 2 else { return FHIRPathQuantity(value: value, unit: "1") }
        let unit = trimmed[1].trimmingWhitespace
        if unit.count >= 2, unit.hasPrefix("'"), unit.hasSuffix("'") {
            return FHIRPathQuantity(value: value, unit: String(unit.dropFirst().dropLast()))
        }
        guard FHIRPathUnits.calendarUnit(String(unit)) != nil else { return nil }
        return FHIRPathQuantity(value: value, unit: String(unit))
    }
}

extension StringProtocol {
    /// Without leading and trailing whitespace.
    var trimmingWhitespace: SubSequence {
        guard let start = firstIndex(where: { !$0.isWhitespace }), let end = lastIndex(where: { !$0.isWhitespace }) else {
            return self[endIndex...]
        }
        return self[start...end]
    }
}
