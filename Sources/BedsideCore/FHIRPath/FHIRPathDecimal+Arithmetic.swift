/// Exact arithmetic on decimals. Each operation returns `nil` when the result cannot be held, which
/// FHIRPath reports as empty (its rule for overflow).
extension FHIRPathDecimal {
    public static prefix func - (value: FHIRPathDecimal) -> FHIRPathDecimal {
        FHIRPathDecimal(significand: -value.significand, scale: value.scale)
    }

    public var magnitude: FHIRPathDecimal { isNegative ? -self : self }

    public func adding(_ other: FHIRPathDecimal) -> FHIRPathDecimal? {
        guard let (left, right, scale) = Self.aligned(self, other) else { return nil }
        let (sum, overflow) = left.addingReportingOverflow(right)
        // Int128.min has no negation; treating it as overflow keeps every significand negatable.
        return overflow || sum == .min ? nil : FHIRPathDecimal(significand: sum, scale: scale)
    }

    public func subtracting(_ other: FHIRPathDecimal) -> FHIRPathDecimal? { adding(-other) }

    /// The exact product; when that would not fit, the operand with more decimals gives up its last ones.
    public func multiplied(by other: FHIRPathDecimal) -> FHIRPathDecimal? {
        var left = self
        var right = other
        while true {
            let (product, overflow) = left.significand.multipliedReportingOverflow(by: right.significand)
            if !overflow, product != .min { return FHIRPathDecimal(significand: product, scale: left.scale + right.scale).limited }
            if left.scale == 0, right.scale == 0 { return nil }
            if left.scale >= right.scale {
                left = left.rounded(toPlaces: left.scale - 1)
            } else {
                right = right.rounded(toPlaces: right.scale - 1)
            }
        }
    }

    /// The quotient to `divisionScale` places (fewer if the numbers are very large), rounded, without
    /// trailing zeros: `7 / 2` is `3.5`. `nil` when dividing by zero.
    public func divided(by other: FHIRPathDecimal) -> FHIRPathDecimal? {
        guard !other.isZero else { return nil }
        var target = Self.divisionScale
        while target >= 0 {
            // result.significand = self.significand × 10^(target + other.scale − self.scale) / other.significand
            let shift = target + other.scale - scale
            if shift >= 0 {
                if let numerator = Self.scaledUp(significand, by: shift) {
                    return FHIRPathDecimal(significand: Self.dividedRounding(numerator, by: other.significand), scale: target).normalized
                }
            } else {
                guard let divisor = Self.scaledUp(other.significand, by: -shift) else { return .zero }
                return FHIRPathDecimal(significand: Self.dividedRounding(significand, by: divisor), scale: target).normalized
            }
            target -= 1
        }
        return nil
    }

    /// `div`: the quotient truncated to a whole number.
    public func truncatingDivision(by other: FHIRPathDecimal) -> FHIRPathDecimal? {
        guard !other.isZero, let (left, right, _) = Self.aligned(self, other) else { return nil }
        return FHIRPathDecimal(significand: left / right, scale: 0)
    }

    /// `mod`: what is left after `div`, with the sign of the dividend (`5.5 mod 0.7` is `0.6`).
    public func remainder(dividingBy other: FHIRPathDecimal) -> FHIRPathDecimal? {
        guard !other.isZero, let (left, right, scale) = Self.aligned(self, other) else { return nil }
        return FHIRPathDecimal(significand: left % right, scale: scale)
    }

    // MARK: - Rounding

    /// Rounded half away from zero to `places` digits after the point (only ever fewer than now).
    public func rounded(toPlaces places: Int) -> FHIRPathDecimal {
        let places = max(0, places)
        guard places < scale else { return self }
        guard let divisor = Self.powerOfTen(scale - places) else { return FHIRPathDecimal(significand: 0, scale: places) }
        return FHIRPathDecimal(significand: Self.dividedRounding(significand, by: divisor), scale: places)
    }

    /// The whole part, towards zero.
    public func truncated() -> FHIRPathDecimal {
        guard scale > 0 else { return self }
        guard let divisor = Self.powerOfTen(scale) else { return .zero }
        return FHIRPathDecimal(significand: significand / divisor, scale: 0)
    }

    /// The greatest whole number not above this one.
    public func floor() -> FHIRPathDecimal {
        let whole = truncated()
        guard isNegative, !isWhole else { return whole }
        return FHIRPathDecimal(significand: whole.significand - 1, scale: 0)
    }

    /// The least whole number not below this one.
    public func ceiling() -> FHIRPathDecimal {
        let whole = truncated()
        guard !isNegative, !isWhole else { return whole }
        return FHIRPathDecimal(significand: whole.significand + 1, scale: 0)
    }

    /// `self` raised to a whole `exponent`, exactly; `nil` on overflow or for 0 to a negative power.
    public func raised(to exponent: Int) -> FHIRPathDecimal? {
        guard exponent != 0 else { return FHIRPathDecimal(1) }
        var base = self
        var remaining = exponent.magnitude
        var result = FHIRPathDecimal(1)
        while remaining > 0 {
            if remaining & 1 == 1 {
                guard let product = result.multiplied(by: base) else { return nil }
                result = product
            }
            remaining >>= 1
            if remaining > 0 {
                guard let square = base.multiplied(by: base) else { return nil }
                base = square
            }
        }
        return exponent > 0 ? result : FHIRPathDecimal(1).divided(by: result)
    }

    // MARK: - Helpers

    /// At most `maximumScale` digits after the point.
    var limited: FHIRPathDecimal { scale > Self.maximumScale ? rounded(toPlaces: Self.maximumScale) : self }

    /// Both significands at the same scale. If one cannot be scaled up, the other gives up decimals.
    private static func aligned(_ lhs: FHIRPathDecimal, _ rhs: FHIRPathDecimal) -> (Int128, Int128, Int)? {
        var lhs = lhs
        var rhs = rhs
        while true {
            let scale = max(lhs.scale, rhs.scale)
            if let left = scaledUp(lhs.significand, by: scale - lhs.scale),
                let right = scaledUp(rhs.significand, by: scale - rhs.scale)
            {
                return (left, right, scale)
            }
            if scale == 0 { return nil }
            if lhs.scale == scale { lhs = lhs.rounded(toPlaces: scale - 1) }
            if rhs.scale == scale { rhs = rhs.rounded(toPlaces: scale - 1) }
        }
    }
}
