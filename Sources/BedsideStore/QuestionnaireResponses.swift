import BedsideCore
import Foundation
import GRDB

/// Where a questionnaire response is on its way from the patient to the server.
public enum ResponseState: Int, Sendable {
    /// Being filled in: kept after every answer, so a crash, a lock or leaving the form loses nothing.
    case draft = 0
    /// Finished and queued for sending (in the outbox).
    case queued = 1
    /// The server has it.
    case sent = 2
    /// The server refused it; kept with its reason in the outbox.
    case refused = 3
}

/// A questionnaire response as the store keeps it: the answers (and, once finished, the FHIR
/// QuestionnaireResponse to send), sealed whole. In clear are only its random id, its state and a blind
/// index of the assignment (Task) it answers, so the home screen can ask "is this one started?".
public struct StoredResponse: Sendable, Equatable {
    public var id: String
    public var taskID: String
    public var state: ResponseState
    /// What the client keeps: `questionnaire`, `title`, `answers`, `page`, `typing`, and `response` once finished.
    public var payload: JSONValue

    public init(id: String, taskID: String, state: ResponseState, payload: JSONValue) {
        self.id = id
        self.taskID = taskID
        self.state = state
        self.payload = payload
    }
}

extension ClientStore {
    static let responseTable = "questionnaire_response"

    private func taskIndex(_ taskID: String) throws(StoreError) -> Data {
        do {
            return Data(try vault.blindIndex(taskID, domain: "response.task"))
        } catch {
            throw .vault(error)
        }
    }

    private func sealPayload(_ payload: JSONValue, taskID: String, id: String) throws(StoreError) -> Data {
        var object = payload.objectValue ?? [:]
        object["task"] = .string(taskID)
        return try seal(JSONValue.object(object).serialized(), table: Self.responseTable, id: id, column: "payload")
    }

    private func response(from row: Row) throws(StoreError) -> StoredResponse {
        let id: String = row["id"]
        guard let payload = JSONParser.parseOrNil(try open(row["payload"], table: Self.responseTable, id: id, column: "payload")) else {
            throw .vault(.tampered("questionnaire_response.payload"))
        }
        return StoredResponse(
            id: id, taskID: payload["task"]?.stringValue ?? "", state: ResponseState(rawValue: row["state"]) ?? .draft, payload: payload)
    }

    /// Keeps the answers so far. A response that has already been finished is not changed.
    public func saveDraft(id: String, taskID: String, payload: JSONValue, now: Int64) throws(StoreError) {
        try putUnfinished(id: id, taskID: taskID, payload: payload, as: .draft, now: now) { _ in }
    }

    /// Writes a response that is still a draft (as a draft again, or finished), inside `then`'s transaction;
    /// a response already finished is refused, so a late draft save cannot undo sending.
    private func putUnfinished(
        id: String, taskID: String, payload: JSONValue, as state: ResponseState, now: Int64, then: @escaping (Database) throws -> Void
    ) throws(StoreError) {
        let sealed = try sealPayload(payload, taskID: taskID, id: id)
        let index = try taskIndex(taskID)
        try write { db in
            if let current = try Int.fetchOne(db, sql: "SELECT state FROM questionnaire_response WHERE id = ?", arguments: [id]),
                current != ResponseState.draft.rawValue
            {
                throw StoreError.alreadySent
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO questionnaire_response (id, task_index, state, payload, updated_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, index, state.rawValue, sealed, now])
            try then(db)
        }
    }

    /// The draft for an assignment, if the patient has started it.
    public func draft(taskID: String) throws(StoreError) -> StoredResponse? {
        let index = try taskIndex(taskID)
        let row = try read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM questionnaire_response WHERE task_index = ? AND state = ? ORDER BY updated_at DESC LIMIT 1",
                arguments: [index, ResponseState.draft.rawValue])
        }
        return try row.map { row throws(StoreError) in try response(from: row) }
    }

    /// The furthest any response to this assignment has got: nil (not started), draft, queued, sent or refused.
    public func responseState(taskID: String) throws(StoreError) -> ResponseState? {
        let index = try taskIndex(taskID)
        let states = try read { db in
            try Int.fetchAll(db, sql: "SELECT state FROM questionnaire_response WHERE task_index = ?", arguments: [index])
        }
        let known = states.compactMap(ResponseState.init(rawValue:))
        // Any finished one outranks a draft; among those, the highest state.
        return known.filter { $0 != .draft }.max { $0.rawValue < $1.rawValue } ?? known.first
    }

    /// Finishes a response: its payload now holds the QuestionnaireResponse to send, and it is queued,
    /// in one transaction, so it is either a draft or queued, never lost between the two.
    public func submitResponse(id: String, taskID: String, payload: JSONValue, now: Int64) throws(StoreError) {
        try putUnfinished(id: id, taskID: taskID, payload: payload, as: .queued, now: now) { db in
            try db.execute(sql: "INSERT INTO outbox (record_id, operation, created_at) VALUES (?, 'respond', ?)", arguments: [id, now])
        }
    }

    /// A queued response and its place in the outbox.
    public struct QueuedResponse: Sendable, Equatable {
        public var sequence: Int64
        public var response: StoredResponse
    }

    /// Finished responses waiting to be sent, oldest first; refused ones left out.
    public func responseOutbox(limit: Int) throws(StoreError) -> [QueuedResponse] {
        let rows = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.seq, r.* FROM outbox o JOIN questionnaire_response r ON r.id = o.record_id
                    WHERE o.operation = 'respond' AND o.rejection IS NULL ORDER BY o.seq LIMIT ?
                    """, arguments: [limit])
        }
        var queued: [QueuedResponse] = []
        for row in rows { queued.append(QueuedResponse(sequence: row["seq"], response: try response(from: row))) }
        return queued
    }

    /// Every finished response (queued, sent or refused; not drafts), oldest first: what a patient's
    /// export holds.
    public func finishedResponses() throws(StoreError) -> [StoredResponse] {
        let rows = try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM questionnaire_response WHERE state != ? ORDER BY updated_at, id", arguments: [ResponseState.draft.rawValue])
        }
        var finished: [StoredResponse] = []
        for row in rows { finished.append(try response(from: row)) }
        return finished
    }

    /// Responses the server refused, with its reason, oldest first.
    public func refusedResponses(limit: Int) throws(StoreError) -> [(response: StoredResponse, reason: String)] {
        let rows = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.rejection, r.* FROM outbox o JOIN questionnaire_response r ON r.id = o.record_id
                    WHERE o.operation = 'respond' AND o.rejection IS NOT NULL ORDER BY o.seq LIMIT ?
                    """, arguments: [limit])
        }
        var refused: [(StoredResponse, String)] = []
        for row in rows {
            let response = try response(from: row)
            let reason = String(decoding: try open(row["rejection"], table: "outbox", id: response.id, column: "rejection"), as: UTF8.self)
            refused.append((response, reason))
        }
        return refused
    }

    /// Inside `acknowledge`: the server stored the response.
    static func markResponseSent(_ id: String, server: Data, now: Int64, db: Database) throws {
        try db.execute(
            sql: "UPDATE questionnaire_response SET server = ?, state = ?, updated_at = ? WHERE id = ?",
            arguments: [server, ResponseState.sent.rawValue, now, id])
        try db.execute(sql: "DELETE FROM outbox WHERE record_id = ? AND operation = 'respond'", arguments: [id])
    }
}
