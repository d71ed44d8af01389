extension Double {
    /// The number as a person reads it: "72" for 72.0, "72.5" otherwise.
    ///
    /// Numbers arrive from outside (a patient's upload, a server's answer), and `Int(self)` traps for
    /// values an `Int` cannot hold (1e19, NaN), even in release builds: this never does.
    public var plainText: String {
        if let whole = Int(exactly: self) { return String(whole) }
        return String(self)
    }
}
