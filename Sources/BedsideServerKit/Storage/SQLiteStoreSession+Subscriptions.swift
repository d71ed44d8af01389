import GRDB

/// The change feed and the Subscriptions' delivery state (migration v10).
extension SQLiteStoreSession {
    func recordChange(type: String, id: String, version: Int, at time: Int64) throws {
        try db.cachedStatement(sql: "INSERT INTO resource_change (type, id, version, at) VALUES (?, ?, ?, ?)")
            .execute(arguments: [type, id, version, time])
    }

    func changes(after sequence: Int64, limit: Int) throws -> [ResourceChange] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT seq, type, id, version, at FROM resource_change WHERE seq > ? ORDER BY seq LIMIT ?"),
            arguments: [sequence, limit]
        ).map { ResourceChange(sequence: $0["seq"], type: $0["type"], id: $0["id"], version: $0["version"], at: $0["at"]) }
    }

    func lastChangeSequence() throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM resource_change") ?? 0
    }

    private static func subscriptionState(_ row: Row) -> SubscriptionState {
        SubscriptionState(
            subscriptionID: row["subscription_id"], clientID: row["client_id"], cursor: row["cursor"], failures: row["failures"],
            nextAttemptAt: row["next_attempt_at"], lastError: row["last_error"], events: row["events"])
    }

    func subscriptionState(id: String) throws -> SubscriptionState? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM subscription_state WHERE subscription_id = ?"), arguments: [id])
            .map(Self.subscriptionState)
    }

    func subscriptionStates() throws -> [SubscriptionState] {
        try Row.fetchAll(db, sql: "SELECT * FROM subscription_state ORDER BY subscription_id").map(Self.subscriptionState)
    }

    func save(_ state: SubscriptionState) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO subscription_state (subscription_id, client_id, cursor, failures, next_attempt_at, last_error, events)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                state.subscriptionID, state.clientID, state.cursor, state.failures, state.nextAttemptAt, state.lastError, state.events,
            ])
    }

    func deleteChanges(through sequence: Int64, limit: Int) throws -> Int {
        try db.cachedStatement(sql: "DELETE FROM resource_change WHERE seq IN (SELECT seq FROM resource_change WHERE seq <= ? ORDER BY seq LIMIT ?)")
            .execute(arguments: [sequence, limit])
        return db.changesCount
    }
}
