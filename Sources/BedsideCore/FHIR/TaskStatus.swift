/// FHIR Task statuses.
public enum TaskStatus {
    /// Statuses of an assignment that still waits for the patient: the app lists it, the server completes
    /// it when the answers arrive.
    public static let open: Set<String> = ["requested", "received", "accepted", "ready", "in-progress"]
}
