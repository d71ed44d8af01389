/// What a Subscription's create and update do to its delivery state, inside their transaction.
enum SubscriptionLifecycle {
    /// A new Subscription starts at the end of the feed: it hears of changes from now on, not the past.
    static func created(_ stamped: StoredResource, db: any StoreWriting, info: RequestInfo) throws {
        try db.save(SubscriptionState(
            subscriptionID: stamped.id, clientID: info.principal.client?.clientID ?? info.principal.accountID,
            cursor: try db.lastChangeSequence()))
    }

    /// Started again: after `off` from the end of the feed (as new); after `error` from where it stopped,
    /// so nothing that failed is lost. Either way the count of failures starts again.
    static func updated(from previous: String?, to stamped: StoredResource, db: any StoreWriting) throws {
        guard stamped.status == "active", previous != "active", var state = try db.subscriptionState(id: stamped.id) else { return }
        if previous == "off" { state.cursor = try db.lastChangeSequence() }
        state.failures = 0
        state.nextAttemptAt = 0
        state.lastError = nil
        try db.save(state)
    }
}
