import BedsideCore
import Foundation

/// Sends each active Subscription what changed since its cursor: reads the change feed, keeps the
/// changes whose resource (as it is now) matches the criteria, POSTs them as one notification, and
/// moves the cursor only once the endpoint answered 2xx — so a failure, or a crash in between, sends
/// the same changes again (at-least-once). Failures back off; after `maximumFailures` in a row the
/// Subscription's status becomes `error`. Every attempt is audited, naming the endpoint's host only.
/// Runs on the server's housekeeping loop; tests call `run()` with their own clock.
public struct SubscriptionDispatcher: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let settings: SubscriptionSettings
    /// `https://host:port/fhir`, for the entries' fullUrl.
    public let baseURL: String
    let sender: any NotificationSending
    /// Batches sent to one Subscription per run, so one busy feed cannot hold the others up for long.
    static let batchesPerRun = 10

    public init(store: any ServerStore, clock: any WallClock, settings: SubscriptionSettings, baseURL: String) {
        self.init(store: store, clock: clock, settings: settings, baseURL: baseURL, sender: RestHookSender(caFile: settings.outboundCAFile))
    }

    init(store: any ServerStore, clock: any WallClock, settings: SubscriptionSettings, baseURL: String, sender: any NotificationSending) {
        self.store = store
        self.clock = clock
        self.settings = settings
        self.baseURL = baseURL
        self.sender = sender
    }

    /// One pass over every Subscription that is due; returns how many notifications were delivered.
    @discardableResult
    public func run() async throws -> Int {
        let now = clock.now()
        let due = try await store.read { db in
            try db.subscriptionStates().filter { $0.nextAttemptAt <= now }.compactMap { state -> (SubscriptionState, StoredResource)? in
                guard let stored = try db.resource(type: SupportedResource.subscription.rawValue, id: state.subscriptionID), stored.status == "active"
                else { return nil }
                return (state, stored)
            }
        }
        var delivered = 0
        var start = 0
        while start < due.count {
            let chunk = due[start..<min(start + max(settings.concurrentDeliveries, 1), due.count)]
            start += chunk.count
            delivered += try await withThrowingTaskGroup(of: Int.self) { group in
                for (state, stored) in chunk { group.addTask { try await notify(state, stored) } }
                return try await group.reduce(0, +)
            }
        }
        return delivered
    }

    /// What one look at the feed found for a Subscription.
    struct Batch: Sendable {
        /// The last change looked at: the cursor once this batch is done.
        var through: Int64
        var matches: [StoredResource]
        /// Set when the Subscription can no longer be served (its client gone, or its scope).
        var refusal: String?
    }

    private func notify(_ initial: SubscriptionState, _ stored: StoredResource) async throws -> Int {
        let id = initial.subscriptionID
        let spec: SubscriptionSpec
        do {
            spec = try SubscriptionRules.spec(of: JSONParser.parseOrNil(stored.json) ?? .null, now: clock.now())
        } catch {
            try await stop(id, reason: "the stored Subscription can no longer be read: \(error.outcome.issues.first?.diagnostics ?? "")")
            return 0
        }
        if let end = spec.endsAt, end <= clock.now() {
            let now = clock.now()
            try await store.write { db in try Self.setStatus(id, to: "off", reason: nil, db: db, now: now) }
            return 0
        }
        var cursor = initial.cursor
        var delivered = 0
        for _ in 0..<Self.batchesPerRun {
            let batch = try await look(after: cursor, state: initial, spec: spec)
            if let refusal = batch.refusal {
                try await stop(id, reason: refusal)
                return delivered
            }
            guard batch.through > cursor else { return delivered }
            guard !batch.matches.isEmpty else {
                try await advance(id, to: batch.through, from: cursor)
                cursor = batch.through
                continue
            }
            let now = clock.now()
            let event = try await store.read { db in try db.subscriptionState(id: id)?.events ?? 0 } + 1
            let bundle = NotificationBundle.make(
                subscriptionID: id, event: event, resources: batch.matches, fullResource: spec.fullResource, baseURL: baseURL, now: now)
            let result = await sender.post(bundle.serialized(), to: spec.endpoint, headers: spec.headers)
            try await record(result, id: id, spec: spec, event: event, through: batch.through, from: cursor, matches: batch.matches)
            guard result.delivered else { return delivered }
            delivered += 1
            cursor = batch.through
        }
        return delivered
    }

    /// The next changes after `cursor` and, of them, the resources that match the criteria now (each
    /// once, in its current version). Subscriptions themselves are never news.
    private func look(after cursor: Int64, state: SubscriptionState, spec: SubscriptionSpec) async throws -> Batch {
        let limit = max(settings.batchSize, 1)
        return try await store.read { db in
            let changes = try db.changes(after: cursor, limit: limit)
            let through = changes.last?.sequence ?? cursor
            guard let client = try db.backendClient(id: state.clientID), client.disabledAt == nil else {
                return Batch(through: through, matches: [], refusal: "the client that made it is disabled or no longer registered")
            }
            let scopes = (try? SMARTScopes.parse(client.scopes, strict: true)) ?? SMARTScopes(scopes: [])
            guard scopes.allows(.read, on: spec.criteriaType.rawValue) else {
                return Batch(through: through, matches: [], refusal: "the client may no longer read \(spec.criteriaType.rawValue)")
            }
            var seen = Set<String>()
            var matches: [StoredResource] = []
            for change in changes.reversed() where change.type == spec.criteriaType.rawValue && seen.insert(change.id).inserted {
                var query = spec.query
                query.ids = [change.id]
                query.offset = 0
                query.after = nil
                query.count = 1
                query.byteBudget = .max
                if let match = try db.search(query).resources.first { matches.append(match) }
            }
            return Batch(through: through, matches: matches.reversed(), refusal: nil)
        }
    }

    /// Nothing in these changes matched: move on (unless someone else moved the cursor meanwhile).
    private func advance(_ id: String, to through: Int64, from cursor: Int64) async throws {
        try await store.write { db in
            guard var state = try db.subscriptionState(id: id), state.cursor == cursor else { return }
            state.cursor = through
            try db.save(state)
        }
    }

    /// After an attempt: on 2xx the cursor moves and the failures end; otherwise the failures grow, the
    /// next attempt waits, and after too many the Subscription is put in `error`. The audit line (one
    /// per patient whose data went out, or one) is written in the same transaction.
    private func record(
        _ result: DeliveryResult, id: String, spec: SubscriptionSpec, event: Int64, through: Int64, from cursor: Int64,
        matches: [StoredResource]
    ) async throws {
        let now = clock.now()
        let settings = self.settings
        try await store.write { db in
            guard var state = try db.subscriptionState(id: id) else { return }
            let patients = result.delivered ? Set(matches.compactMap(\.patientID)).sorted() : []
            let shown: [String?] = patients.isEmpty ? [nil] : patients
            let events = shown.map { patientID in
                AuditEvent(
                    at: now, actorID: state.clientID, actorRole: "system", action: "notify", resourceType: SupportedResource.subscription.rawValue,
                    resourceID: id, patientID: patientID, outcome: result.delivered ? "success" : "failure", httpStatus: result.httpStatus,
                    remoteAddress: nil, request: "POST \(spec.endpointHost)")
            }
            try db.append(events)
            if result.delivered {
                // An update meanwhile (turned off and on again) moved the cursor: leave it where it is.
                if state.cursor == cursor { state.cursor = through }
                state.failures = 0
                state.nextAttemptAt = 0
                state.lastError = nil
                // The number this notification carried, not one more than the count: two instances that
                // both sent a batch during a handover sent it with the same number, and the next must
                // follow it, not skip one (a gap a subscriber would read as a lost event).
                state.events = max(state.events, event)
                try db.save(state)
                return
            }
            state.failures += 1
            state.nextAttemptAt = now + settings.delay(afterFailures: state.failures)
            state.lastError = result.reason
            try db.save(state)
            if state.failures >= settings.maximumFailures {
                try Self.setStatus(id, to: "error", reason: "\(state.failures) deliveries in a row failed; the last: \(result.reason)", db: db, now: now)
            }
        }
    }

    /// Puts the Subscription in `error` at once: it cannot be served.
    private func stop(_ id: String, reason: String) async throws {
        let now = clock.now()
        try await store.write { db in
            if var state = try db.subscriptionState(id: id) {
                state.lastError = reason
                try db.save(state)
            }
            try Self.setStatus(id, to: "error", reason: reason, db: db, now: now)
        }
    }

    /// A new version of the Subscription with status `error` and the reason, or `off` when its `end`
    /// has come, if it is still active (a client's `off` meanwhile wins), so the client sees it on its
    /// next read.
    static func setStatus(_ id: String, to status: String, reason: String?, db: any StoreWriting, now: Int64) throws {
        guard let current = try db.resource(type: SupportedResource.subscription.rawValue, id: id), current.status == "active",
            var object = JSONParser.parseOrNil(current.json)?.objectValue
        else { return }
        object["status"] = .string(status)
        object["error"] = reason.map { .string($0) }
        let stamped = FHIRService.stamp(
            .object(object), type: .subscription, id: id, version: current.versionID + 1, at: max(now, current.lastUpdated + 1))
        try db.put(stamped)
        try db.append([
            AuditEvent(
                at: now, actorID: "subscriptions", actorRole: "system", action: "update", resourceType: SupportedResource.subscription.rawValue,
                resourceID: id, outcome: "success", httpStatus: 200, remoteAddress: "local", request: reason == nil ? "subscription ended" : "subscription error")
        ])
    }

    /// Drops changes every Subscription has seen; the server's housekeeping calls it now and then. In
    /// slices, each its own write: a backlog of millions (a bulk load, a server long without
    /// subscribers) never holds the write lock for long, and the server's own writes go on between.
    public func pruneFeed() async throws {
        while !Task.isCancelled, try await store.write({ db in try Self.pruneFeed(db: db, limit: Self.pruneSlice) }) == Self.pruneSlice {
            await Task.yield()
        }
    }

    /// Changes dropped in one write.
    static let pruneSlice = 5_000

    /// Changes every Subscription has seen (or, with none active or in error, all) are dropped, at most
    /// `limit` of them, the oldest first; how many went.
    static func pruneFeed(db: any StoreWriting, limit: Int) throws -> Int {
        var oldest = try db.lastChangeSequence()
        for state in try db.subscriptionStates() {
            let status = try db.resource(type: SupportedResource.subscription.rawValue, id: state.subscriptionID)?.status
            if status == "active" || status == "error" { oldest = min(oldest, state.cursor) }
        }
        return try db.deleteChanges(through: oldest, limit: limit)
    }
}
