import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// What every `ServerStore` must do, run on SQLite and on PostgreSQL alike: the same calls, the same
/// answers. A difference between the two backends is a failure here.
@Suite("ServerStore contract (SQLite and PostgreSQL)")
struct ServerStoreContractTests {
    func withStore(_ backend: StoreBackend, _ body: (any ServerStore) async throws -> Void) async throws {
        let (store, remove) = try await backend.makeStore()
        do {
            try await body(store)
        } catch {
            await remove()
            throw error
        }
        await remove()
    }

    static func observation(_ id: String, patient: String, date: Int64?, version: Int = 1, code: String = "29463-7", identifier: String? = nil) -> StoredResource {
        StoredResource(
            type: "Observation", id: id, versionID: version, lastUpdated: 1_000 + Int64(version), patientID: patient, status: "final",
            date: date, priority: nil, json: Array("{\"resourceType\":\"Observation\",\"id\":\"\(id)\",\"v\":\(version)}".utf8),
            codes: [ResourceCode(system: "http://loinc.org", code: code)], identifiers: identifier.map { [ResourceCode(system: "urn:device", code: $0)] } ?? [],
            categories: [ResourceCode(system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs")])
    }

    @Test("accounts: found by e-mail (blind index), id and patient; sessions touched and revoked; throttles replaced; a taken e-mail refused", arguments: StoreBackend.allCases)
    func accounts(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let ann = Account(id: "a1", email: "ann@example.org", role: .patient, passwordHash: "h", displayName: "Ann Ö", patientID: "p1", createdAt: 5)
            let nurse = Account(id: "c1", email: "nurse@example.org", role: .clinician, passwordHash: "h", displayName: "Nurse", practitionerID: "pr1", createdAt: 6)
            try await store.write { db in
                try db.insert(ann)
                try db.insert(nurse)
                try db.insert(SessionRecord(tokenHash: "t1", accountID: "a1", createdAt: 10, lastSeenAt: 10, revokedAt: nil))
                try db.save(LoginThrottle(key: "ann@example.org", failures: 1, updatedAt: 1))
                try db.save(LoginThrottle(key: "ann@example.org", failures: 3, checking: 1, lockedUntil: 99, updatedAt: 2))
                try db.addTeamMember(clinicianAccountID: "c1", patientID: "p1")
                try db.addTeamMember(clinicianAccountID: "c1", patientID: "p1")
                try db.touchSession(tokenHash: "t1", at: 20)
            }
            await #expect(throws: (any Error).self) {
                try await store.write { db in
                    try db.insert(Account(id: "a2", email: "ann@example.org", role: .patient, passwordHash: "h", displayName: "Copy", createdAt: 7))
                }
            }
            try await store.read { db in
                #expect(try db.account(email: "ann@example.org")?.displayName == "Ann Ö")
                #expect(try db.account(id: "c1")?.practitionerID == "pr1")
                #expect(try db.account(patientID: "p1")?.id == "a1")
                #expect(try db.accounts().map(\.id) == ["c1", "a1"])
                #expect(try db.session(tokenHash: "t1")?.lastSeenAt == 20)
                let throttle = try db.throttle(key: "ann@example.org")
                #expect(throttle?.failures == 3 && throttle?.checking == 1 && throttle?.lockedUntil == 99)
                #expect(try db.teamPatientIDs(clinicianAccountID: "c1") == ["p1"])
                #expect(try db.clinicianAccountIDs(practitionerIDs: ["pr1", "nobody"]) == ["c1"])
                #expect(try db.teamPractitionerIDs(patientID: "p1") == ["pr1"])
            }
            try await store.write { db in try db.revokeSessions(accountID: "a1", at: 30) }
            #expect(try await store.read { db in try db.session(tokenHash: "t1")?.revokedAt } == 30)
        }
    }

    @Test("password-check budgets: at most N uses a window, a refusal spends nothing and says when the oldest leaves; keys apart; old uses purged", arguments: StoreBackend.allCases)
    func budgets(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let limit = RateLimit(requests: 3, windowSeconds: 60)
            let start: Int64 = 1_000_000
            let firstWindow = try await store.write { db in
                try [0, 10_000, 20_000, 30_000, 30_500].map { offset in try db.useBudget(key: "address:a", limit: limit, now: start + offset) }
            }
            // Three fit; the fourth and fifth wait for the first to leave the window (60 s after it).
            #expect(firstWindow == [nil, nil, nil, 30, 30], "\(firstWindow)")
            let other = try await store.write { db in try db.useBudget(key: "address:b", limit: limit, now: start + 30_000) }
            #expect(other == nil, "another key has a budget of its own")
            // The first use has left the window: room for one, not two (the refusals were not counted).
            let later = try await store.write { db in
                try [60_001, 60_002].map { offset in try db.useBudget(key: "address:a", limit: limit, now: start + offset) }
            }
            #expect(later == [nil, 10], "\(later)")
            try await store.write { db in try db.purgeExpired(before: start + 60_003 + RateLimit.longestKeptUse) }
            let afterPurge = try await store.write { db in
                try (0..<3).map { _ in try db.useBudget(key: "address:a", limit: limit, now: start + 60_004) }
            }
            #expect(afterPurge == [nil, nil, nil], "housekeeping forgot every old use: \(afterPurge)")
            // A clock a day ahead, then put right: the uses it dated do not hold the key for a day.
            let ahead = try await store.write { db in try (0..<3).map { _ in try db.useBudget(key: "address:c", limit: limit, now: start + 86_400_000) } }
            #expect(ahead == [nil, nil, nil])
            let putRight = try await store.write { db in try db.useBudget(key: "address:c", limit: limit, now: start + 100_000) }
            #expect(putRight == nil, "uses dated more than a window ahead are forgotten")
        }
    }

    @Test("resources: versions and history, identifiers per patient, search by code, date and sort (no date first ascending, last descending), paging, totals", arguments: StoreBackend.allCases)
    func resources(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.write { db in
                try db.put(Self.observation("o1", patient: "p1", date: 300, identifier: "dev-1"))
                try db.put(Self.observation("o2", patient: "p1", date: 100, code: "8867-4"))
                try db.put(Self.observation("o3", patient: "p1", date: nil))
                try db.put(Self.observation("o4", patient: "p2", date: 200))
                try db.put(Self.observation("o1", patient: "p1", date: 400, version: 2, identifier: "dev-1"))
            }
            try await store.read { db in
                #expect(try db.resource(type: "Observation", id: "o1")?.versionID == 2)
                #expect(try db.resource(type: "Observation", id: "o1", version: 1)?.json == Self.observation("o1", patient: "p1", date: 300).json)
                #expect(try db.resource(type: "Observation", id: "o1", version: 3) == nil)
                #expect(try db.resourceID(type: "Observation", identifier: ResourceCode(system: "urn:device", code: "dev-1"), patientID: "p1") == "o1")
                #expect(try db.resourceID(type: "Observation", identifier: ResourceCode(system: "urn:device", code: "dev-1"), patientID: "p2") == nil)
                #expect(try db.count(type: "Observation") == 4)

                var query = ResourceQuery(type: "Observation")
                query.patientIDs = ["p1"]
                query.sort = [.date(ascending: true)]
                #expect(try db.search(query).resources.map(\.id) == ["o3", "o2", "o1"])
                query.sort = [.date(ascending: false)]
                #expect(try db.search(query).resources.map(\.id) == ["o1", "o2", "o3"])
                query.count = 2
                let first = try db.search(query)
                #expect(first.resources.map(\.id) == ["o1", "o2"] && first.hasMore)
                query.offset = 2
                #expect(try db.search(query).resources.map(\.id) == ["o3"])

                var byCode = ResourceQuery(type: "Observation")
                byCode.codes = [[TokenSearch(system: "http://loinc.org", code: "8867-4")]]
                #expect(try db.search(byCode).resources.map(\.id) == ["o2"])
                // The same answers within patients (PostgreSQL reads the codes on the resource's own row) as
                // across them (it joins the code table).
                for patients in [nil, ["p1", "p2"]] as [[String]?] {
                    func ids(_ tokens: [TokenSearch], categories: [TokenSearch]? = nil) throws -> Set<String> {
                        var query = ResourceQuery(type: "Observation")
                        query.patientIDs = patients
                        query.codes = [tokens]
                        query.categories = categories.map { [$0] } ?? []
                        return Set(try db.search(query).resources.map(\.id))
                    }
                    let loinc = "http://loinc.org"
                    #expect(try ids([TokenSearch(system: loinc, code: "8867-4")]) == ["o2"])
                    #expect(try ids([TokenSearch(system: nil, code: "8867-4")]) == ["o2"])
                    #expect(try ids([TokenSearch(system: "urn:other", code: "8867-4")]) == [])
                    #expect(try ids([TokenSearch(system: "", code: "8867-4")]) == [], "no system is not any system")
                    #expect(try ids([TokenSearch(system: loinc, code: nil)]) == ["o1", "o2", "o3", "o4"])
                    #expect(try ids([TokenSearch(system: loinc, code: "8867-4"), TokenSearch(system: nil, code: "29463-7")]) == ["o1", "o2", "o3", "o4"])
                    #expect(try ids([TokenSearch(system: "http://loinc.org8867", code: "-4")]) == [], "a system and code run together are not another pair")
                    #expect(try ids([TokenSearch(system: nil, code: nil)]) == ["o1", "o2", "o3", "o4"])
                    #expect(try ids([TokenSearch(system: nil, code: "8867-4")], categories: [TokenSearch(system: nil, code: "vital-signs")]) == ["o2"])
                    #expect(try ids([TokenSearch(system: nil, code: "8867-4")], categories: [TokenSearch(system: nil, code: "laboratory")]) == [])
                }
                var byDate = ResourceQuery(type: "Observation")
                byDate.dates = [ResourceQuery.DateCondition(comparison: .ge, value: FHIRDateTime(epochMilliseconds: 200))]
                #expect(Set(try db.search(byDate).resources.map(\.id)) == ["o1", "o4"])
                #expect(try db.total(matching: byDate) == 2)
                #expect(try db.patientIDs(matching: byDate) == ["p1", "p2"])
                var none = ResourceQuery(type: "Observation")
                none.patientIDs = []
                #expect(try db.search(none).resources.isEmpty)
            }
        }
    }

    @Test("the change feed numbers only grow, even after its oldest entries are dropped; the audit trail chains and verifies", arguments: StoreBackend.allCases)
    func feedAndAudit(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.write { db in
                try db.put(Self.observation("o1", patient: "p1", date: 1))
                try db.put(Self.observation("o2", patient: "p1", date: 2))
            }
            let feed = try await store.read { db in try db.changes(after: 0, limit: 10) }
            #expect(feed.map(\.id) == ["o1", "o2"])
            let last = try #require(feed.last?.sequence)
            try await store.write { db in
                // In slices: one, then the rest.
                #expect(try db.deleteChanges(through: last, limit: 1) == 1)
                #expect(try db.changes(after: 0, limit: 10).map(\.id) == ["o2"])
                #expect(try db.deleteChanges(through: last, limit: 100) == 1)
                try db.put(Self.observation("o3", patient: "p1", date: 3))
            }
            let after = try await store.read { db in try db.changes(after: last, limit: 10) }
            #expect(after.map(\.id) == ["o3"] && (after.first?.sequence ?? 0) > last)
            #expect(try await store.read { db in try db.lastChangeSequence() } == after.first?.sequence)

            let events = (0..<5).map { index in
                AuditEvent(at: Int64(index), actorID: "a1", actorRole: "patient", action: "read", resourceType: "Observation", resourceID: "o\(index)",
                    patientID: "p1", outcome: "success", httpStatus: 200, remoteAddress: "127.0.0.1", request: "GET /fhir/Observation")
            }
            try await store.write { db in try db.append(Array(events.prefix(2))) }
            try await store.write { db in try db.append(Array(events.dropFirst(2))) }
            let links = try await store.read { db in try db.auditLinks(after: 0, limit: 100) }
            #expect(links.count == 5 && links.map(\.event.resourceID) == events.map(\.resourceID))
            var verifier = AuditChain.Verifier(key: store.keys.audit)
            for link in links { try verifier.check(link) }
            #expect(verifier.checked == 5)

            // Many lines in one transaction, some read back before it commits: every one, in order, chained.
            let many = (0..<1_203).map { index in
                AuditEvent(at: 100 + Int64(index), actorID: "a1", actorRole: "patient", action: "create", resourceType: "Observation",
                    resourceID: "m\(index)", patientID: "p1", outcome: "success", httpStatus: 201, remoteAddress: nil, request: nil)
            }
            let seenInside = try await store.write { db in
                try db.append(Array(many.prefix(3)))
                let inside = try db.auditLinks(after: 0, limit: 100).map(\.event.resourceID)
                for event in many.dropFirst(3) { try db.append([event]) }
                return inside
            }
            #expect(seenInside == (events + many.prefix(3)).map(\.resourceID))
            let all = try await store.read { db in try db.auditLinks(after: 0, limit: 2_000) }
            #expect(all.count == 1_208 && all.map(\.event.resourceID) == (events + many).map(\.resourceID))
            #expect(all.map(\.sequence) == Array(all.indices).map { Int64($0) + (all.first?.sequence ?? 0) })
            for link in all.dropFirst(5) { try verifier.check(link) }
            #expect(verifier.checked == 1_208)
        }
    }

    @Test("created resources: seen by every later statement of their transaction, in the feed in order, found by code, category and identifier; a taken id fails the whole write", arguments: StoreBackend.allCases)
    func createdResources(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            // More than a backend keeps before it sends them anyway.
            let many = (0..<730).map { Self.observation("n\($0)", patient: "p\($0 % 3)", date: Int64($0), identifier: "dev-\($0)") }
            let device: @Sendable (String) -> ResourceCode = { value in ResourceCode(system: "urn:device", code: value) }
            let inside = try await store.write { db in
                try db.create(Self.observation("first", patient: "p1", date: 5_000, identifier: "dev-first"))
                let byIdentifier = try db.resourceID(type: "Observation", identifier: device("dev-first"), patientID: "p1")
                let otherPatient = try db.resourceID(type: "Observation", identifier: device("dev-first"), patientID: "p2")
                var query = ResourceQuery(type: "Observation")
                query.patientIDs = ["p1"]
                query.codes = [[TokenSearch.code("29463-7", system: "http://loinc.org")]]
                let searched = try db.search(query).resources.map(\.id)
                for resource in many { try db.create(resource) }
                try db.create(StoredResource(
                    type: "Flag", id: "f1", versionID: 1, lastUpdated: 7, patientID: nil, status: nil, date: nil, priority: 3, json: Array("{}".utf8)))
                let last = try db.resourceID(type: "Observation", identifier: device("dev-729"), patientID: "p0")
                return (byIdentifier, otherPatient, searched, last, try db.resource(type: "Observation", id: "n729")?.json, try db.count(type: "Observation"))
            }
            #expect(inside.0 == "first" && inside.1 == nil && inside.2 == ["first"] && inside.3 == "n729")
            #expect(inside.4 == many.last?.json && inside.5 == 731)
            let fields = try await store.read { db in
                try [db.resource(type: "Observation", id: "n5"), db.resource(type: "Flag", id: "f1")].map { stored in
                    [stored?.patientID, stored?.status, stored?.date.map { String($0) }, stored?.priority.map { String($0) }, stored.map { String($0.lastUpdated) }]
                }
            }
            #expect(fields == [["p2", "final", "5", nil, "1001"], [nil, nil, nil, "3", "7"]])
            let feed = try await store.read { db in try db.changes(after: 0, limit: 1_000) }
            #expect(feed.map(\.id) == ["first"] + many.map(\.id) + ["f1"])
            #expect(feed.map(\.sequence) == Array(feed.indices).map { Int64($0) + (feed.first?.sequence ?? 0) })
            var query = ResourceQuery(type: "Observation")
            query.patientIDs = ["p0"]
            query.codes = [[TokenSearch.code("29463-7", system: "http://loinc.org")]]
            query.categories = [[TokenSearch(system: nil, code: "vital-signs")]]
            query.count = 1_000
            let patientQuery = query
            #expect(try await store.read { db in try db.search(patientQuery).resources.count } == 244)
            var across = ResourceQuery(type: "Observation")
            across.codes = [[TokenSearch.code("29463-7", system: "http://loinc.org")]]
            across.count = 1_000
            let acrossQuery = across
            #expect(try await store.read { db in try db.search(acrossQuery).resources.count } == 731)

            // A taken id: nothing of that write stays.
            do {
                try await store.write { db in
                    try db.create(Self.observation("x1", patient: "p1", date: 1, identifier: "dev-x1"))
                    try db.create(Self.observation("first", patient: "p1", date: 1))
                }
                Issue.record("a taken id was accepted")
            } catch let error as PostgresStoreError {
                #expect(error.code == .constraint, "\(error)")
            } catch {
                #expect("\(error)".contains("Observation/first is stored already"), "\(error)")
            }
            #expect(try await store.read { db in try db.resource(type: "Observation", id: "x1") } == nil)
            #expect(try await store.read { db in try db.resource(type: "Observation", id: "first")?.versionID } == 1)
        }
    }

    @Test("keyset pages: following each page's cursor gives every match once, in the order of one big page, for each sort (NULL dates included); a write before the cursor moves nothing", arguments: StoreBackend.allCases)
    func keysetPages(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.write { db in
                for index in 0..<37 {
                    // Repeated dates (ties broken by row), some missing.
                    var observation = Self.observation("k\(index)", patient: "p1", date: index % 5 == 0 ? nil : Int64(index % 7) * 1_000)
                    observation.lastUpdated = 10_000 + Int64(index % 4)
                    observation.priority = index % 3 == 0 ? nil : index % 3
                    try db.create(observation)
                }
            }
            let sorts: [[ResourceQuery.SortKey]] = [
                [], [.date(ascending: true)], [.date(ascending: false)], [.priority(ascending: false), .date(ascending: true)],
                [.lastUpdated(ascending: false), .priority(ascending: true), .date(ascending: false)],
            ]
            for sort in sorts {
                var query = ResourceQuery(type: "Observation")
                query.patientIDs = ["p1"]
                query.sort = sort
                query.count = 1_000
                let whole = query
                let expected = try await store.read { db in try db.search(whole).resources.map(\.id) }
                query.count = 4
                var seen: [String] = []
                var pages = 0
                while pages < 100 {
                    let asked = query
                    let page = try await store.read { db in try db.search(asked) }
                    seen += page.resources.map(\.id)
                    pages += 1
                    guard page.hasMore else { break }
                    query.after = try #require(page.next)
                }
                #expect(seen == expected, "\(sort)")
                #expect(expected.count == 37 && pages == 10, "\(sort)")
                // The same among a care team of hundreds (a list PostgreSQL is given another way).
                var team = whole
                team.patientIDs = (0..<300).map { "other-\($0)" } + ["p1"]
                let teamQuery = team
                #expect(try await store.read { db in try db.search(teamQuery).resources.map(\.id) } == expected, "\(sort)")
                // And what changed since a moment among them (the kiosk's refresh).
                team.lastUpdated = [ResourceQuery.DateCondition(comparison: .ge, value: try #require(FHIRDateTime("1970-01-01T00:00:10Z")))]
                let sinceQuery = team
                #expect(try await store.read { db in try db.search(sinceQuery).resources.map(\.id) } == expected, "\(sort)")
            }

            // Past the first page of the newest first, a new first match changes nothing after the cursor.
            var query = ResourceQuery(type: "Observation")
            query.patientIDs = ["p1"]
            query.sort = [.date(ascending: true)]
            query.count = 10
            let firstQuery = query
            let first = try await store.read { db in try db.search(firstQuery) }
            query.after = try #require(first.next)
            let secondQuery = query
            let before = try await store.read { db in try db.search(secondQuery).resources.map(\.id) }
            try await store.write { db in try db.create(Self.observation("early", patient: "p1", date: -5)) }
            #expect(try await store.read { db in try db.search(secondQuery).resources.map(\.id) } == before)
            // A cursor made for another sort matches nothing rather than something wrong.
            var foreign = secondQuery
            foreign.sort = []
            let foreignQuery = foreign
            #expect(try await store.read { db in try db.search(foreignQuery).resources.isEmpty })
        }
    }

    @Test("identifier lookups asked for ahead answer as one at a time would, also after a create and an update in between", arguments: StoreBackend.allCases)
    func lookupsAhead(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.write { db in
                try db.put(Self.observation("o1", patient: "p1", date: 1, identifier: "a"))
                try db.put(Self.observation("o2", patient: "p2", date: 1, identifier: "b"))
            }
            let answers = try await store.write { db in
                func id(_ value: String, _ patient: String) throws -> String? {
                    try db.resourceID(type: "Observation", identifier: ResourceCode(system: "urn:device", code: value), patientID: patient)
                }
                let asked = [("a", "p1"), ("b", "p1"), ("c", "p1"), ("b", "p2"), ("z", "p1")]
                try db.expectLookups(type: "Observation", asked.map { (identifier: ResourceCode(system: "urn:device", code: $0.0), patientID: $0.1) })
                var seen = try asked.map { try id($0.0, $0.1) }
                try db.create(Self.observation("o3", patient: "p1", date: 2, identifier: "c"))
                seen.append(try id("c", "p1"))
                // A new version of o1 trades its identifier "a" for "z", which was asked for ahead as absent.
                try db.put(Self.observation("o1", patient: "p1", date: 1, version: 2, identifier: "z"))
                seen += [try id("a", "p1"), try id("z", "p1")]
                // More creates than a backend keeps: those sent meanwhile are still found, by the bytes of
                // their identifiers (a decomposed "café" is another identifier, as in the database).
                let asked2 = (0..<600).map { (identifier: ResourceCode(system: "urn:device", code: "batch-\($0)"), patientID: Optional("p1")) }
                try db.expectLookups(type: "Observation", asked2 + [(identifier: ResourceCode(system: "urn:device", code: "cafe\u{301}"), patientID: "p1")])
                for index in 0..<600 { try db.create(Self.observation("b\(index)", patient: "p1", date: 3, identifier: "batch-\(index)")) }
                try db.create(Self.observation("nfc", patient: "p1", date: 3, identifier: "caf\u{e9}"))
                seen += [try id("batch-0", "p1"), try id("batch-599", "p1"), try id("caf\u{e9}", "p1"), try id("cafe\u{301}", "p1")]
                return seen
            }
            #expect(answers == ["o1", nil, nil, "o2", nil, "o3", nil, "o1", "b0", "b599", "nfc", nil])
        }
    }

    @Test("care ends, erasure removes a patient's every trace but others', alerts are one per rule and hour, subscriptions and assertions", arguments: StoreBackend.allCases)
    func lifecycle(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.write { db in
                try db.insert(Account(id: "a1", email: "ann@example.org", role: .patient, passwordHash: "h", displayName: "Ann", patientID: "p1", createdAt: 1))
                try db.insert(Account(id: "a2", email: "bob@example.org", role: .patient, passwordHash: "h", displayName: "Bob", patientID: "p2", createdAt: 1))
                try db.put(Self.observation("o1", patient: "p1", date: 1))
                try db.put(Self.observation("o1", patient: "p1", date: 1, version: 2))
                try db.put(Self.observation("o2", patient: "p2", date: 1))
                try db.save(CareEnd(patientID: "p1", endedAt: 50, source: .commandLine))
                try db.save(CareEnd(patientID: "p1", endedAt: 60, source: .commandLine))
            }
            try await store.read { db in
                #expect(try db.careEnd(patientID: "p1")?.endedAt == 60)
                #expect(try db.careEnds(endedBefore: 61).map(\.patientID) == ["p1"])
                let summary = try db.patientDataSummary(patientID: "p1")
                #expect(summary.resources == 1 && summary.versions == 2 && summary.historyVersions == 1)
                #expect(try db.patientHistory(patientID: "p1", type: "Observation", after: nil, limit: 10).map(\.version) == [1])
            }
            let counts = try await store.write { db in try db.erasePatient(patientID: "p1") }
            #expect(counts.resources == 1 && counts.historyVersions == 1 && counts.accounts == 1)
            try await store.read { db throws in
                #expect(try db.resource(type: "Observation", id: "o1") == nil)
                #expect(try db.account(id: "a1") == nil)
                #expect(try db.resource(type: "Observation", id: "o2") != nil)
                #expect(try db.account(id: "a2") != nil)
                #expect(try db.careEnd(patientID: "p1") == nil)
            }
            // Each backend says what it can: SQLite overwrites (nothing reads here), PostgreSQL frees the space.
            #expect(try await store.removeDeletedData() == (backend == .sqlite ? .removed : .spaceReusable))

            let hour: Int64 = 3_600_000 * 100
            let first = try await store.write { db in
                try db.save(SecurityAlert(rule: "r", subject: "s", hour: hour, count: 10, threshold: 5, detail: "ten", raisedAt: hour))
            }
            let again = try await store.write { db in
                try db.save(SecurityAlert(rule: "r", subject: "s", hour: hour + 3_600_000, count: 12, threshold: 5, detail: "twelve", raisedAt: hour))
            }
            #expect(first?.id != nil && again == nil)
            let alerts = try await store.read { db in try db.securityAlerts(raisedSince: 0) }
            #expect(alerts.count == 1 && alerts.first?.count == 12 && alerts.first?.detail == "twelve")

            let replay = try await store.write { db in
                [try db.recordAssertion(clientID: "emr", jti: "j1", expiresAt: 9), try db.recordAssertion(clientID: "emr", jti: "j1", expiresAt: 9)]
            }
            #expect(replay == [true, false])
        }
    }

    @Test("export jobs and pages, Subscription states, and the audit queries the unusual-activity rules make", arguments: StoreBackend.allCases)
    func jobsAndWatch(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.write { db in
                for index in 0..<5 { try db.put(Self.observation("o\(index)", patient: "p\(index % 2)", date: Int64(index))) }
                var job = ExportJobRecord(id: "j1", clientID: "emr", request: [1, 2], status: .accepted, createdAt: 1, transactionTime: 2_000)
                try db.insert(job)
                job.status = .running
                job.progress = "half"
                job.attempt = "0123456789abcdef"
                try db.insert(ExportJobRecord(id: "j2", clientID: "emr", request: [], status: .accepted, createdAt: 2, transactionTime: 2_000))
                try db.update(job)
                try db.save(SubscriptionState(subscriptionID: "s1", clientID: "emr", cursor: 1, failures: 0, nextAttemptAt: 0, lastError: nil, events: 0))
                try db.save(SubscriptionState(subscriptionID: "s1", clientID: "emr", cursor: 4, failures: 2, nextAttemptAt: 9, lastError: "down", events: 3))
                let hour: Int64 = 3_600_000
                try db.append([
                    AuditEvent(at: hour + 1, actorID: "c1", actorRole: "clinician", action: "read", patientID: "p1", outcome: "success", httpStatus: 200, remoteAddress: nil, request: nil),
                    AuditEvent(at: hour + 2, actorID: "c1", actorRole: "clinician", action: "read", patientID: "p2", outcome: "success", httpStatus: 200, remoteAddress: nil, request: nil),
                    AuditEvent(at: 2 * hour + 1, actorID: "c1", actorRole: "clinician", action: "search", patientID: "p1", outcome: "success", httpStatus: 200, remoteAddress: nil, request: nil),
                    AuditEvent(at: hour + 3, actorID: "emr", actorRole: "system", action: "export", resourceType: nil, outcome: "success", httpStatus: 202, remoteAddress: nil, request: nil),
                ])
            }
            try await store.read { db in
                #expect(try db.nextExportJob()?.id == "j2")
                #expect(try db.exportJob(id: "j1")?.progress == "half")
                #expect(try db.exportJob(id: "j1")?.attempt == "0123456789abcdef")
                #expect(try db.heldExportJobs(clientID: "emr", at: 0).count == 2)
                let page = try db.exportPage(ResourceQuery(type: "Observation"), updatedAfter: nil, updatedBy: 2_000, afterKey: 0, limit: 3, byteBudget: .max)
                #expect(page.rows.count == 3 && page.next != nil)
                let rest = try db.exportPage(ResourceQuery(type: "Observation"), updatedAfter: nil, updatedBy: 2_000, afterKey: page.next ?? 0, limit: 3, byteBudget: .max)
                #expect(rest.rows.count == 2 && rest.next == nil)
                let state = try db.subscriptionState(id: "s1")
                #expect(state?.cursor == 4 && state?.lastError == "down" && state?.events == 3)
                #expect(try db.subscriptionStates().count == 1)
                let hour: Int64 = 3_600_000
                #expect(try db.auditEvents(from: hour, until: 2 * hour, actions: ["read"], actorRole: "clinician").count == 2)
                #expect(try db.patientsSeen(byRole: "clinician", actions: ["read", "search"], from: 0, until: 3 * hour, atLeast: 2) == ["c1": 2])
                #expect(try db.hourlyPatientCounts(actorID: "c1", actions: ["read", "search"], from: 0, until: 3 * hour).sorted() == [1, 2])
                #expect(try db.hasAuditEvent(actorID: "emr", actions: ["export"], resourceType: nil, before: 2 * hour))
                #expect(try !db.hasAuditEvent(actorID: "emr", actions: ["export"], resourceType: "Patient", before: 2 * hour))
            }
            let putBack = try await store.write { db in try db.requeueRunningExportJobs() }
            #expect(putBack.map(\.id) == ["j1"] && putBack.first?.attempt == "0123456789abcdef", "the jobs as they were, with their runs")
            let requeued = try await store.read { db in try db.exportJob(id: "j1") }
            #expect(requeued?.status == .accepted && requeued?.attempt == nil, "a job put back belongs to no run")
        }
    }
}
