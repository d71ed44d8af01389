import BedsideCore

/// Everything that can happen to the UI: input, time, and the results of effects.
public enum Action: Sendable {
    case key(Key)
    /// The clock moved (the runtime sends this about once a second, and scripts with `tick`).
    case tick(now: Int64)
    case resize(width: Int, height: Int)

    case codeRequested
    case loginFailed(String)
    case loggedIn(SessionInfo)
    case unlocked(SessionInfo)
    case unlockFailed(String)
    case statusLoaded(HomeStatus)
    case saved(MeasurementRecord, edited: Bool)
    case saveFailed(String)
    /// `total` is nil when unchanged (later pages).
    case historyLoaded(kind: MeasurementKind, page: [MeasurementRecord], total: Int?, appended: Bool)
    case deleted(id: String, removed: Bool)
    /// The patient (or a script's `sync`) asks for a sync now.
    case syncRequested
    case syncProgress(SyncActivity.Phase)
    case syncFinished(SyncOutcome)
    /// The "Needs attention" screen and logging in again.
    case attention(AttentionAction)
    /// Answering a questionnaire.
    case questionnaire(QuestionnaireAction)
    /// The clinician kiosk.
    case kiosk(KioskAction)
    /// The export is in place (the full path), with this many measurements.
    case exported(path: String, count: Int)
    case exportFailed(String)
    case loggedOut
    case logoutFailed(String)
    /// An effect failed in a way the current screen should show.
    case failed(String)
}

/// Results for the "Needs attention" screen, and of logging in again after the server ended the session.
public enum AttentionAction: Sendable {
    case loaded([AttentionItem])
    case resent(id: String)
    case discarded(id: String)
    /// A new session after the server ended the old one; nothing local changed.
    case reauthenticated
}

/// Results of opening and submitting a questionnaire.
public enum QuestionnaireAction: Sendable {
    // Boxed: a whole form is large, and Action stays small to copy (and to match as an Optional).
    indirect case opened(QuestionnaireSession)
    /// The finished questionnaire is kept and queued.
    case submitted(title: String)
}

/// Results of the kiosk's requests.
public enum KioskAction: Sendable {
    /// The whole queue as the server has it now.
    case alertsLoaded([KioskAlert], cursor: QueueCursor)
    /// The alerts changed since the cursor (new ones, and new versions of those held).
    case alertsChanged([KioskAlert], cursor: QueueCursor)
    /// Nothing has changed (304).
    case alertsUnchanged
    case alertsFailed(String)
    case alertContextLoaded(AlertContext)
    /// The patient overview, or why it could not be loaded.
    case patientOverviewLoaded(PatientOverview)
    /// The decision is stored; the alert as it is now.
    case triaged(KioskAlert)
    /// Someone else changed the alert first (412).
    case triageConflict(current: KioskAlert, attempted: AlertTriage)
}

/// Who is logged in, as the screens show it (never the token or the password).
public struct SessionInfo: Sendable, Equatable {
    public var displayName: String
    public var email: String
    public var server: String

    public init(displayName: String, email: String, server: String) {
        self.displayName = displayName
        self.email = email
        self.server = server
    }
}

/// What the home screen and the header show.
public struct HomeStatus: Sendable, Equatable {
    public var latest: [MeasurementKind: MeasurementRecord]
    public var unsent: Int
    public var rejected: Int
    public var lastSync: Int64?
    /// The server's clock minus this computer's, in milliseconds, as last seen.
    public var clockOffset: Int64?
    /// Questionnaires to fill in, most urgent first.
    public var assignments: [Assignment]

    public init(
        latest: [MeasurementKind: MeasurementRecord] = [:], unsent: Int = 0, rejected: Int = 0, lastSync: Int64? = nil,
        clockOffset: Int64? = nil, assignments: [Assignment] = []
    ) {
        self.assignments = assignments
        self.latest = latest
        self.unsent = unsent
        self.rejected = rejected
        self.lastSync = lastSync
        self.clockOffset = clockOffset
    }
}
