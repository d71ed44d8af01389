/// The version of every Bedside program, shown by `--version` and in the CapabilityStatement.
public enum BedsideVersion {
    public static let current = "0.1.0"
}
