/// The functions this engine implements, by their FHIRPath name, with how many arguments each takes.
/// The parser rejects any other name, so a form that needs a missing function is reported when its
/// expression is read, not when a patient reaches the item.
enum FHIRPathFunction: String, Sendable, CaseIterable {
    // Existence
    case empty, exists, all, allTrue, anyTrue, allFalse, anyFalse, subsetOf, supersetOf, count, distinct, isDistinct
    // Filtering and projection
    case `where`, select, `repeat`, ofType
    // Subsetting
    case single, first, last, tail, skip, take, intersect, exclude
    // Combining
    case union, combine
    // Conversion
    case iif
    case toBoolean, convertsToBoolean, toInteger, convertsToInteger, toDecimal, convertsToDecimal, toString, convertsToString
    case toDate, convertsToDate, toDateTime, convertsToDateTime, toTime, convertsToTime, toQuantity, convertsToQuantity
    // Strings
    case indexOf, substring, startsWith, endsWith, contains, upper, lower, replace, matches, replaceMatches, length
    case toChars, trim, split, join
    // Math
    case abs, ceiling, exp, floor, ln, log, power, round, sqrt, truncate
    // Tree navigation
    case children, descendants
    // Utility
    case trace, today, now, timeOfDay
    // Boolean
    case not
    // Types
    case `is`, `as`
    // Aggregates
    case sum, min, max, avg, aggregate
    // FHIR
    case `extension`, hasValue
    // SDC
    case ordinal, weight, answerOption, answers

    /// How many arguments the function accepts.
    var arity: ClosedRange<Int> {
        switch self {
        case .exists, .toQuantity, .convertsToQuantity, .round, .join: 0...1
        case .all, .subsetOf, .supersetOf, .where, .select, .repeat, .ofType, .skip, .take, .intersect, .exclude, .union, .combine,
            .indexOf, .startsWith, .endsWith, .contains, .matches, .split, .log, .power, .is, .as, .extension:
            1...1
        case .substring, .aggregate, .trace: 1...2
        case .replace, .replaceMatches: 2...2
        case .iif: 2...3
        default: 0...0
        }
    }

    /// Functions whose single argument is a type name rather than an expression.
    var takesTypeName: Bool { self == .ofType || self == .is || self == .as }
}
