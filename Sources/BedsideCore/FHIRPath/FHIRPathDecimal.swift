/// An exact decimal number, `significand × 10^-scale`, as FHIRPath's Decimal needs: `0.1 + 0.2` is
/// exactly `0.3`, and `72.50` keeps the precision it was written with.
///
/// The significand is 128 bits (38 digits). Results keep at most `maximumScale` digits after the
/// point; an operation whose result cannot be held returns `nil`, which FHIRPath turns into empty.
public struct FHIRPathDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let significand: Int128
    /// Digits after the decimal point, never negative.
    public let scale: Int

    /// The most digits kept after the point.
    public static let maximumScale = 24
    /// Digits computed after the point by division before trailing zeros are dropped.
    static let divisionScale = 20

    /// `significand × 10^-scale`; `scale` must not be negative.
    init(significand: Int128, scale: Int) {
        self.significand = significand
        self.scale = scale
    }

    public init(_ value: Int) { self.init(significand: Int128(value), scale: 0) }

    public static let zero = FHIRPathDecimal(0)

    // MARK: - Text

    /// Reads `-12.50`, `3`, `1e-3` or `2.5E+2`. Digits past `maximumScale` are rounded.
    public init?(_ text: some StringProtocol) {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var negative = false
        if index < scalars.count, scalars[index] == "-" || scalars[index] == "+" {
            negative = scalars[index] == "-"
            index += 1
        }
        var significand: Int128 = 0
        var scale = 0
        var digitCount = 0
        var inFraction = false
        var dropped: UInt32? = nil
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == ".", !inFraction {
                inFraction = true
            } else if scalar >= "0", scalar <= "9" {
                digitCount += 1
                if inFraction, scale >= Self.maximumScale {
                    if dropped == nil { dropped = scalar.value - 0x30 }
                } else {
                    guard let next = Self.appending(Int128(scalar.value - 0x30), to: significand) else { return nil }
                    significand = next
                    if inFraction { scale += 1 }
                }
            } else {
                break
            }
            index += 1
        }
        guard digitCount > 0 else { return nil }
        if let dropped, dropped >= 5 { significand += 1 }
        if index < scalars.count, scalars[index] == "e" || scalars[index] == "E" {
            var exponentText = String.UnicodeScalarView()
            exponentText.append(contentsOf: scalars[(index + 1)...])
            guard let exponent = Int(String(exponentText)), abs(exponent) < 1000 else { return nil }
            scale -= exponent
            index = scalars.count
        }
        guard index == scalars.count else { return nil }
        if scale < 0 {
            guard let scaled = Self.scaledUp(significand, by: -scale) else { return nil }
            significand = scaled
            scale = 0
        }
        var value = FHIRPathDecimal(significand: negative ? -significand : significand, scale: scale)
        if scale > Self.maximumScale { value = value.rounded(toPlaces: Self.maximumScale) }
        self = value
    }

    /// The shortest decimal that reads back as `value`; `nil` for infinities and NaN.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        self.init("\(value)")
    }

    /// As written, keeping trailing zeros: `72.50`.
    public var description: String {
        let magnitude = String(significand.magnitude)
        let sign = significand < 0 ? "-" : ""
        guard scale > 0 else { return sign + magnitude }
        let padded = String(repeating: "0", count: max(0, scale + 1 - magnitude.count)) + magnitude
        let split = padded.index(padded.endIndex, offsetBy: -scale)
        return sign + padded[..<split] + "." + padded[split...]
    }

    // MARK: - Properties

    public var isZero: Bool { significand == 0 }
    public var isNegative: Bool { significand < 0 }

    /// Whether nothing but zeros follows the point.
    public var isWhole: Bool {
        guard scale > 0, let unit = Self.powerOfTen(scale) else { return true }
        return significand % unit == 0
    }

    /// The value as an `Int` when it is whole and fits.
    public var intValue: Int? {
        guard isWhole else { return nil }
        let whole = truncated()
        guard let unit = Self.powerOfTen(whole.scale) else { return nil }
        return Int(exactly: whole.significand / unit)
    }

    public var doubleValue: Double { Double(description) ?? .nan }

    /// The same value without trailing zeros after the point.
    public var normalized: FHIRPathDecimal {
        var significand = significand
        var scale = scale
        while scale > 0, significand % 10 == 0 {
            significand /= 10
            scale -= 1
        }
        return FHIRPathDecimal(significand: significand, scale: scale)
    }

    // MARK: - Equality and order (by value: 1.0 equals 1.00)

    public static func == (lhs: FHIRPathDecimal, rhs: FHIRPathDecimal) -> Bool { compare(lhs, rhs) == 0 }

    public static func < (lhs: FHIRPathDecimal, rhs: FHIRPathDecimal) -> Bool { compare(lhs, rhs) < 0 }

    public func hash(into hasher: inout Hasher) {
        let value = normalized
        hasher.combine(value.significand)
        hasher.combine(value.scale)
    }

    /// -1, 0 or 1.
    static func compare(_ lhs: FHIRPathDecimal, _ rhs: FHIRPathDecimal) -> Int {
        let left: Int128
        let right: Int128
        if lhs.scale >= rhs.scale {
            left = lhs.significand
            // If aligning overflows, the right side is the larger in magnitude and its sign decides.
            guard let aligned = scaledUp(rhs.significand, by: lhs.scale - rhs.scale) else { return rhs.significand > 0 ? -1 : 1 }
            right = aligned
        } else {
            right = rhs.significand
            guard let aligned = scaledUp(lhs.significand, by: rhs.scale - lhs.scale) else { return lhs.significand > 0 ? 1 : -1 }
            left = aligned
        }
        return left < right ? -1 : (left == right ? 0 : 1)
    }

    // MARK: - Helpers on significands

    static func powerOfTen(_ exponent: Int) -> Int128? {
        guard exponent >= 0, exponent <= 38 else { return nil }
        var result: Int128 = 1
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    static func scaledUp(_ value: Int128, by digits: Int) -> Int128? {
        guard digits > 0 else { return value }
        guard let factor = powerOfTen(digits) else { return value == 0 ? 0 : nil }
        let (result, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : result
    }

    private static func appending(_ digit: Int128, to value: Int128) -> Int128? {
        let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
        guard !overflow else { return nil }
        let (sum, overflowSum) = shifted.addingReportingOverflow(digit)
        return overflowSum ? nil : sum
    }

    /// `value / divisor`, rounding half away from zero.
    static func dividedRounding(_ value: Int128, by divisor: Int128) -> Int128 {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        guard remainder != 0 else { return quotient }
        let rest = remainder.magnitude
        // rest * 2 >= |divisor|, written so it cannot overflow.
        guard rest >= divisor.magnitude - rest else { return quotient }
        return (value < 0) != (divisor < 0) ? quotient - 1 : quotient + 1
    }
}
