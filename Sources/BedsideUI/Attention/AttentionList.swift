import BedsideCore
import Foundation

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
