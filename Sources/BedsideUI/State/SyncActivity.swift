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

/// One change the server refused, as the "Needs attention" screen shows it.
public struct AttentionItem: Sendable, Equatable {
    /// What was refused: a measurement (new, or its withdrawal), or a questionnaire's answers.
    public enum Subject: Sendable, Equatable {
        case measurement(MeasurementRecord)
        case response(id: String, title: String)
    }

    public var subject: Subject
    /// The server's reason, shown inert.
    public var reason: String
    /// A refused withdrawal (the measurement stays on the server) rather than a refused new measurement.
    public var isWithdrawal: Bool

    public init(record: MeasurementRecord, reason: String, isWithdrawal: Bool) {
        self.subject = .measurement(record)
        self.reason = reason
        self.isWithdrawal = isWithdrawal
    }

    public init(responseID: String, title: String, reason: String) {
        self.subject = .response(id: responseID, title: title)
        self.reason = reason
        self.isWithdrawal = false
    }

    /// The id the store keeps it under.
    public var id: String {
        switch subject {
        case .measurement(let record): record.id
        case .response(let id, _): id
        }
    }

    public var record: MeasurementRecord? {
        if case .measurement(let record) = subject { return record }
        return nil
    }
}

/// The "Needs attention" list.
public struct AttentionList: Sendable, Equatable {
    public var items: [AttentionItem] = []
    public var selected = 0
    public var loading = true
    /// Asking "discard this?" about the selected item.
    public var confirmingDiscard = false

    public init() {}

    public var current: AttentionItem? { items.indices.contains(selected) ? items[selected] : nil }
}
