/// Why a vault operation failed, in words a patient can act on.
public enum VaultError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The password did not unwrap the data key.
    case wrongPassword
    /// The vault is locked: the data key is not in memory.
    case locked
    /// A sealed value failed its authentication check: it was altered, or moved from another row.
    case tampered(String)
    /// The key file is unreadable or from an unknown format.
    case corruptKeyFile(String)
    /// The data directory holds files Bedside did not make and carries no Bedside marker (`--data-dir ~/Documents`):
    /// Bedside neither writes nor removes anything there.
    case notBedsideDirectory(String)
    /// The operating system refused (files, randomness).
    case system(String)

    public var description: String {
        switch self {
        case .wrongPassword: "The password is not correct."
        case .locked: "Bedside is locked. Enter your password to unlock."
        case .tampered(let what): "Stored data failed its integrity check (\(what)); it may have been altered."
        case .corruptKeyFile(let detail): "The key file cannot be read (\(detail))."
        case .notBedsideDirectory(let path):
            "\(path) was not made by Bedside and holds other files, so Bedside will not change or delete anything in it. "
                + "Choose a new or empty directory with --data-dir."
        case .system(let detail): detail
        }
    }
}
