import BedsideCore
import BedsideTestSupport
import Testing

@testable import BedsideServerKit

/// One table of search parameters: what the CapabilityStatement lists is exactly what a search takes.
@Suite("Search parameter table")
struct SearchParameterTests {
    static func sample(_ name: String, _ type: String, on resource: SupportedResource) -> String {
        switch name {
        case "_summary": return "count"
        case "_total": return "accurate"
        case "_include": return "\(resource.rawValue):patient"
        case "_revinclude": return "Flag:patient"
        case "_elements": return "status"
        default: break
        }
        return switch type {
        case "reference": "Patient/3f2a"
        case "date": "ge2026-01-01"
        case "number": "10"
        case "special": "_lastUpdated"
        case "uri": "https://example.org/Questionnaire/phq-9"
        default: "final"
        }
    }

    @Test("every parameter listed for a type is parsed for it; one not listed is refused with not-supported", arguments: SupportedResource.allCases)
    func listedIsAccepted(_ type: SupportedResource) throws {
        let statement = CapabilityStatement.make(baseURL: "https://example.org/fhir", now: 0)
        let resource = try #require(statement["rest"]?.arrayValue?.first?["resource"]?.arrayValue?.first { $0["type"]?.stringValue == type.rawValue })
        let listed = (resource["searchParam"]?.arrayValue ?? []).compactMap { parameter -> (String, String)? in
            guard let name = parameter["name"]?.stringValue, let kind = parameter["type"]?.stringValue else { return nil }
            return (name, kind)
        }
        #expect(listed.count >= 5, "the common parameters at least")
        for (name, kind) in listed where name != "_has" {
            #expect(throws: Never.self, "\(type.rawValue)?\(name)") {
                try SearchRequest.parse(type: type, parameters: [(name, Self.sample(name, kind, on: type))])
            }
        }
        let unlisted = SearchParameter.table.map(\.name).filter { name in !["_offset", "_cursor"].contains(name) && !listed.contains { $0.0 == name } }
        for name in unlisted + ["patinet"] {
            do {
                _ = try SearchRequest.parse(type: type, parameters: [(name, "x")])
                Issue.record("\(type.rawValue)?\(name) was accepted but is not listed")
            } catch {
                guard case .badRequest(_, _, let code) = error else { Issue.record("\(error)"); continue }
                #expect(code == "not-supported", "\(type.rawValue)?\(name): \(error)")
            }
        }
    }

    @Test("_summary=count answers how many match, with no entries; _total=accurate adds Bundle.total to a page; other values are refused", arguments: StoreBackend.allCases)
    func summaryAndTotal(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("counted@example.org")
            let token = try await server.login("counted@example.org").token
            let patientID = try #require(patient.patientID)
            for kilograms in [80.0, 81, 82] {
                let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(kilograms, patientID: patientID))
                #expect(created.status == 201)
            }
            let count = try await server.request("GET", "/fhir/Observation?_summary=count", token: token)
            #expect(count.status == 200 && count.json?["total"]?.intValue == 3 && count.entries.isEmpty, "\(count.text)")
            let page = try await server.request("GET", "/fhir/Observation?_total=accurate&_count=2", token: token)
            #expect(page.json?["total"]?.intValue == 3 && page.entries.count == 2)
            let plain = try await server.request("GET", "/fhir/Observation?_count=2", token: token)
            #expect(plain.json?["total"] == nil, "counted only when asked")
            let data = try await server.request("GET", "/fhir/Observation?_summary=data", token: token)
            #expect(data.status == 400 && data.issueCode == "not-supported")
        }
    }

    @Test("_include brings the matches' Patients (mode include); _revinclude on Patient brings what points at them; both within the caller's access", arguments: StoreBackend.allCases)
    func includes(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("incl@example.org")
            _ = try await server.addPatient("outside@example.org")
            _ = try await server.addClinician("nurse.incl@example.org", patients: ["incl@example.org"])
            let patientID = try #require(patient.patientID)
            let token = try await server.login("incl@example.org").token
            for kilograms in [80.0, 81] {
                #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(kilograms, patientID: patientID)).status == 201)
            }
            let nurse = try await server.login("nurse.incl@example.org").token
            let observations = try await server.request("GET", "/fhir/Observation?_include=Observation:patient", token: nurse)
            let modes = observations.entries.map { "\($0["resource"]?["resourceType"]?.stringValue ?? "?"):\($0["search"]?["mode"]?.stringValue ?? "?")" }
            #expect(modes.sorted() == ["Observation:match", "Observation:match", "Patient:include"], "\(modes)")
            let patients = try await server.request("GET", "/fhir/Patient?_revinclude=Observation:patient", token: nurse)
            let kinds = patients.entries.map { "\($0["resource"]?["resourceType"]?.stringValue ?? "?"):\($0["search"]?["mode"]?.stringValue ?? "?")" }
            #expect(kinds.sorted() == ["Observation:include", "Observation:include", "Patient:match"], "only the care team's patient and theirs: \(kinds)")
            #expect(try await server.request("GET", "/fhir/Observation?_include=Flag:patient", token: nurse).status == 400)
            #expect(try await server.request("GET", "/fhir/Patient?_revinclude=Practitioner:patient", token: nurse).status == 400)
        }
    }

    @Test("date takes every FHIR prefix: eq ne gt lt ge le sa eb, and ap (a tenth of the gap to now either side)", arguments: [
        ("eq2026-11-08", [10]), ("2026-11-08", [10]), ("ne2026-11-08", [1, 30, 100]), ("gt2026-11-08", [1]), ("sa2026-11-08", [1]),
        ("lt2026-11-08", [30, 100]), ("eb2026-11-08", [30, 100]), ("ge2026-11-08", [1, 10]), ("le2026-11-08", [10, 30, 100]),
        ("ap2026-11-08", [10]), ("ap2026-11-17", [1]), ("ap2026-08-10", [100]), ("ap2025-01-01", []), ("ap2026-08-01", [100]),
        ("ge2026-11-08T00:00:00Z&date=lt2026-11-18", [1, 10]),
    ])
    func datePrefixes(_ search: String, _ expectedDaysAgo: [Int]) async throws {
        try await withServer { server in
            let patient = try await server.addPatient("dates@example.org")
            let token = try await server.login("dates@example.org").token
            let patientID = try #require(patient.patientID)
            // The server's clock stands at 2026-11-18T11:06Z; readings 100, 30, 10 and 1 day(s) before, at noon UTC (newest first).
            var daysAgoByValue: [String: Int] = [:]
            for daysAgo in [100, 10, 30, 1] {
                let day = (TestServer.start / 86_400_000 - Int64(daysAgo)) * 86_400_000 + 43_200_000
                var reading = server.weight(Double(60 + daysAgo % 50), patientID: patientID).objectValue ?? [:]
                reading["effectiveDateTime"] = .string(FHIRDateTime.format(epochMilliseconds: day, utcOffsetSeconds: 0))
                daysAgoByValue[String(60 + daysAgo % 50)] = daysAgo
                #expect(try await server.request("POST", "/fhir/Observation", token: token, json: .object(reading)).status == 201)
            }
            let answer = try await server.request("GET", "/fhir/Observation?date=\(search)", token: token)
            #expect(answer.status == 200, "\(answer.text)")
            let found = answer.entries.compactMap { $0["resource"]?["valueQuantity"]?["value"]?.numberLiteral }.compactMap { daysAgoByValue[$0] }
            #expect(found == expectedDaysAgo, "date=\(search)")
        }
    }

    @Test("category finds Observations by any of their category codings, with or without the system; an upgraded store indexes what it held", arguments: StoreBackend.allCases)
    func category(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("category@example.org")
            let token = try await server.login("category@example.org").token
            let patientID = try #require(patient.patientID)
            #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: patientID)).status == 201)
            var lab = server.weight(80, patientID: patientID).objectValue ?? [:]
            lab["code"] = ["coding": [["system": "http://loinc.org", "code": "2823-3"]]]
            lab["category"] = [["coding": [["system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"]]]]
            lab["valueQuantity"] = ["value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"]
            lab["meta"] = nil
            let created = try await server.request("POST", "/fhir/Observation", token: token, json: .object(lab))
            #expect(created.status == 201, "\(created.text)")
            func codes(_ search: String) async throws -> [String] {
                let answer = try await server.request("GET", "/fhir/Observation?category=\(search)", token: token)
                #expect(answer.status == 200, "\(answer.text)")
                return answer.entries.compactMap { $0["resource"]?["code"]?["coding"]?.arrayValue?.first?["code"]?.stringValue }.sorted()
            }
            #expect(try await codes("vital-signs") == ["29463-7"])
            #expect(try await codes("http://terminology.hl7.org/CodeSystem/observation-category%7Claboratory") == ["2823-3"])
            #expect(try await codes("laboratory,vital-signs") == ["2823-3", "29463-7"])
            #expect(try await codes("http://example.org/other%7Claboratory") == [])
            #expect(try await codes("social-history") == [])
            // Repeats are AND (R4 3.1.1.4.1): nothing is both a laboratory result and a vital sign.
            #expect(try await codes("laboratory&category=vital-signs") == [])
            #expect(try await codes("laboratory,vital-signs&category=vital-signs") == ["29463-7"])
            #expect(try await codes("http://terminology.hl7.org/CodeSystem/observation-category%7C") == ["2823-3", "29463-7"], "system| is any code of it")
            #expect(try await codes("%7Cvital-signs") == [], "|code is a code with no system")
            let both = try await server.request("GET", "/fhir/Observation?code=29463-7&code=http://loinc.org%7C2823-3", token: token)
            #expect(both.status == 200 && both.entries.isEmpty, "two codes at once match nothing")
            #expect(try await server.request("GET", "/fhir/Observation?category=%7C", token: token).status == 400)
        }
    }

    @Test("_elements: matches hold only what was asked (a choice name keeps value[x]) plus id, meta and required elements, tagged SUBSETTED; reads too; included resources whole", arguments: StoreBackend.allCases)
    func elements(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("elements@example.org")
            let token = try await server.login("elements@example.org").token
            let patientID = try #require(patient.patientID)
            let created = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: patientID))
            let id = try #require(created.json?["id"]?.stringValue)
            let search = try await server.request("GET", "/fhir/Observation?_elements=value&_include=Observation:patient", token: token)
            #expect(search.status == 200, "\(search.text)")
            let match = try #require(search.entries.first { $0["search"]?["mode"]?.stringValue == "match" }?["resource"])
            #expect(Set(match.objectValue?.keys ?? []) == ["resourceType", "id", "meta", "status", "code", "valueQuantity"], "\(match)")
            #expect(match["meta"]?["tag"]?.arrayValue?.contains { $0["code"]?.stringValue == "SUBSETTED" } == true)
            let included = try #require(search.entries.first { $0["search"]?["mode"]?.stringValue == "include" }?["resource"])
            #expect(included["name"] != nil && included["meta"]?["tag"] == nil, "an included Patient comes whole")
            let read = try await server.request("GET", "/fhir/Observation/\(id)?_elements=Observation.subject,effective", token: token)
            #expect(Set(read.json?.objectValue?.keys ?? []) == ["resourceType", "id", "meta", "status", "code", "subject", "effectiveDateTime"], "\(read.text)")
            let whole = try await server.request("GET", "/fhir/Observation/\(id)", token: token)
            #expect(whole.json?["valueQuantity"] != nil && whole.json?["meta"]?["tag"] == nil, "without _elements, all of it")
            #expect(read.header("etag") != whole.header("etag"), "a part has a tag of its own")
            let cached = try await server.request("GET", "/fhir/Observation/\(id)?_elements=subject", token: token, headers: [("If-None-Match", "W/\"1\"")])
            #expect(cached.status == 200, "the whole's tag does not make a part 304")
            var part = try #require(read.json?.objectValue)
            part["status"] = "entered-in-error"
            let overwrite = try await server.request("PUT", "/fhir/Observation/\(id)", token: token, json: .object(part), headers: [("If-Match", "W/\"1\"")])
            #expect(overwrite.status == 422, "a SUBSETTED copy never replaces the whole: \(overwrite.text.prefix(200))")
            for bad in ["1x", "value%20quantity", "", "code,,status"] {
                let refused = try await server.request("GET", "/fhir/Observation?_elements=\(bad)", token: token)
                #expect(refused.status == 400 && refused.json?["resourceType"]?.stringValue == "OperationOutcome", "_elements=\(bad): \(refused.status)")
            }
        }
    }

    @Test("_pretty=true writes every FHIR answer indented (resources, Bundles, errors); the same JSON as without it", arguments: StoreBackend.allCases)
    func pretty(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let compact = try await server.request("GET", "/fhir/metadata")
            let pretty = try await server.request("GET", "/fhir/metadata?_pretty=true")
            #expect(pretty.text.hasPrefix("{\n  \"resourceType\": \"CapabilityStatement\""), "\(pretty.text.prefix(80))")
            #expect(!compact.text.contains("\n"))
            var left = compact.json?.objectValue, right = pretty.json?.objectValue
            left?["meta"] = nil; right?["meta"] = nil; left?["date"] = nil; right?["date"] = nil
            #expect(left == right && left != nil, "only the layout differs")
            let missing = try await server.request("GET", "/fhir/Nothing/here/at/all?_pretty=true")
            #expect(missing.status == 404 && missing.text.contains("\n  \"issue\": ["), "\(missing.text.prefix(120))")
            let unauthenticated = try await server.request("GET", "/fhir/Observation?_pretty=true")
            #expect(unauthenticated.status == 401 && unauthenticated.text.contains("\n"))
            #expect(try await server.request("GET", "/fhir/metadata?_pretty=false").text.contains("\n") == false)
        }
    }

    @Test("over the wire, every search parameter the CapabilityStatement declares works for every type: 200 for a clinician, never 400", arguments: StoreBackend.allCases)
    func capabilityWalk(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            _ = try await server.addPatient("walk@example.org")
            _ = try await server.addClinician("nurse.walk@example.org", patients: ["walk@example.org"])
            let nurse = try await server.login("nurse.walk@example.org").token
            // Groups and Subscriptions are for backend clients only: walked with an EMR's token.
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/Subscription.rs system/Group.rs")
            let system = try await server.systemToken(emr, clientID: clientID, scope: "system/Subscription.rs system/Group.rs")
            let metadata = try await server.request("GET", "/fhir/metadata")
            let resources = metadata.json?["rest"]?.arrayValue?.first?["resource"]?.arrayValue ?? []
            var walked = 0
            for resource in resources {
                guard let typeName = resource["type"]?.stringValue else { continue }
                let interactions = resource["interaction"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? []
                let caller = SupportedResource(rawValue: typeName)?.isClientOnly == true ? system : nurse
                if interactions.contains("search-type") {
                    #expect(try await server.request("GET", "/fhir/\(typeName)", token: caller).status == 200, "\(typeName)")
                }
                guard let type = SupportedResource(rawValue: typeName) else { continue }
                for parameter in resource["searchParam"]?.arrayValue ?? [] {
                    guard let name = parameter["name"]?.stringValue, name != "_has", let kind = parameter["type"]?.stringValue else { continue }
                    let value = BundleWriter.percentEncode(Self.sample(name, kind, on: type))
                    let answer = try await server.request("GET", "/fhir/\(typeName)?\(name)=\(value)", token: caller)
                    #expect(answer.status == 200, "\(typeName)?\(name)=\(value): \(answer.status) \(answer.text.prefix(300))")
                    walked += 1
                }
            }
            #expect(walked >= 60, "\(walked) parameters walked")
        }
    }
}
