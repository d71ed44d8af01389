/// Numbers written for people: whole values without a trailing `.0`.
///
/// Values come from servers too (a reading of 1e19, or one a JSON parser made infinite): `Int(value)`
/// would trap on those even in a release build, so only a value that is exactly an Int is written as one,
/// and anything else as Swift writes a Double (`1e+19`, `inf`, `nan`).
public enum DecimalText {
    public static func plain(_ value: Double) -> String {
        if let whole = Int(exactly: value) { return String(whole) }
        return String(value)
    }

    /// Rounded to one decimal (72.46 → 72.5); values too large to have decimals are left as they are.
    public static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, value.magnitude < 1e15 else { return plain(value) }
        return plain((value * 10).rounded() / 10)
    }
}
