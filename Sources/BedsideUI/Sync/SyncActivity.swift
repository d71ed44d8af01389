import BedsideCore

/// What the sync worker is doing and when it will try next, as the status line shows it.
///
/// The schedule lives here, in the pure state, and moves with `.tick`: a script's virtual clock
/// drives automatic syncs exactly as the real clock does.
public struct SyncActivity: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        case sending(done: Int, total: Int)
        case receiving
    }

    /// A sync effect is under way.
    public var running = false
    public var phase: Phase?
    /// When the worker starts the next sync by itself (after an entry, on schedule, or to retry).
    public var nextAttemptAt: Int64?
    /// Failures in a row; grows the back-off.
    public var failures = 0
    /// The server could not be reached at the last attempt.
    public var offline = false
    /// The server ended the session (401): nothing is sent until the patient logs in again.
    public var needsLogin = false
    /// What went wrong at the last attempt, for the status line and the message.
    public var lastError: String?
    /// Another sync was asked for while one ran: run once more at the end.
    public var requestedAgain = false
    /// The running sync was asked for by the patient.
    public var announceResult = false

    public init() {}
}

/// How a sync run ended, as the runtime reports it to the reducer.
public struct SyncOutcome: Sendable, Equatable {
    public enum Failure: Sendable, Equatable {
        /// No network, the server is down, or it did not answer in time.
        case offline
        /// The server is overloaded or failing (5xx, 429); `retryAfterSeconds` is its own request.
        case serverBusy(retryAfterSeconds: Int?)
        /// The session is no longer valid: log in again (the queue is kept).
        case sessionEnded
        /// Anything else: an untrusted server, an unreadable answer.
        case other
    }

    public var sent: Int
    public var rejected: Int
    public var received: Int
    public var failure: Failure?
    /// The patient-facing explanation of the failure, in their language.
    public var message: String?

    public init(sent: Int = 0, rejected: Int = 0, received: Int = 0, failure: Failure? = nil, message: String? = nil) {
        self.sent = sent
        self.rejected = rejected
        self.received = received
        self.failure = failure
        self.message = message
    }
}
