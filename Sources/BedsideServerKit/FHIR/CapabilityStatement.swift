import BedsideCore

/// `GET /fhir/metadata`: exactly what this server supports, no more.
enum CapabilityStatement {
    /// `GET /fhir/StructureDefinition`: every extension Bedside defines, as a searchset.
    static func extensionDefinitions(baseURL: String, now: Int64) -> [UInt8] {
        let entries: [JSONValue] = BedsideExtension.all.map { known in
            ["fullUrl": .string("\(baseURL)/fhir/StructureDefinition/\(known.id)"), "resource": known.structureDefinition, "search": ["mode": "match"]]
        }
        let bundle: JSONValue = [
            "resourceType": "Bundle", "type": "searchset", "total": .number(entries.count),
            "meta": ["lastUpdated": .string(FHIRDateTime.format(epochMilliseconds: now))],
            "link": [["relation": "self", "url": .string("\(baseURL)/fhir/StructureDefinition")]],
            "entry": .array(entries),
        ]
        return bundle.serialized()
    }

    static func make(baseURL: String, now: Int64) -> JSONValue {
        func parameter(_ name: String, _ type: String, _ documentation: String) -> JSONValue {
            ["name": .string(name), "type": .string(type), "documentation": .string(documentation)]
        }
        let resources: [JSONValue] = SupportedResource.allCases.map { type in
            var interactions: [JSONValue] = [["code": "read"], ["code": "vread"], ["code": "search-type"]]
            if AccessPolicy.mayCreate(type, role: .patient) || AccessPolicy.mayCreate(type, role: .clinician)
                || AccessPolicy.clientCreatable.contains(type)
            {
                interactions.append(["code": "create"])
            }
            if AccessPolicy.mayUpdate(type, role: .patient) || AccessPolicy.mayUpdate(type, role: .clinician)
                || AccessPolicy.clientUpdatable.contains(type)
            {
                interactions.append(["code": "update"])
            }
            // The search table, as the parser reads it; _sort says this type's keys.
            var parameters: [JSONValue] = SearchParameter.all(for: type).filter(\.advertised).map { searchParameter in
                let documentation = searchParameter.field == .sort
                    ? "Sort by \(type.sortKeys.joined(separator: ", ")); prefix '-' for descending" : searchParameter.documentation
                return parameter(searchParameter.name, searchParameter.type, documentation)
            }
            if type == .patient {
                parameters.append(parameter(
                    "_has", "special", "Reverse chain _has:TYPE:patient:PARAMETER=VALUE (TYPE Observation, QuestionnaireResponse, Task or Flag), e.g. _has:Flag:patient:status=active"))
            }
            var entry: JSONObject = [
                "type": .string(type.rawValue),
                "interaction": .array(interactions),
                "versioning": "versioned",
                "readHistory": true,
                "updateCreate": false,
                "conditionalCreate": .bool(AccessPolicy.mayCreate(type, role: .patient)),
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
                "searchParam": .array(parameters),
            ]
            if SearchParameter.named("_include", for: type) != nil { entry["searchInclude"] = [.string("\(type.rawValue):patient")] }
            if SearchParameter.named("_revinclude", for: type) != nil {
                entry["searchRevInclude"] = .array(
                    SupportedResource.allCases.filter { $0.isPatientData && $0 != .patient }.map { .string("\($0.rawValue):patient") })
            }
            if type.isClientOnly {
                entry["documentation"] = .string(
                    "Backend clients only (system/\(type.rawValue) scopes): rest-hook channels to https endpoints, criteria a search on a type the client may read; notifications are history Bundles, at least once.")
            }
            if type == .patient {
                entry["operation"] = [
                    ["name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"],
                    ["name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"],
                ]
            }
            if type == .group {
                entry["operation"] = [["name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"]]
            }
            return .object(entry)
        } + [[
            "type": "StructureDefinition", "interaction": [["code": "read"], ["code": "search-type"]],
            "documentation": "The StructureDefinitions of Bedside's own extensions (public, no token needed).",
        ]]
        return [
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": .string(FHIRDateTime.format(epochMilliseconds: now)),
            "publisher": "Bedside",
            "kind": "instance",
            "software": ["name": "bedside-server", "version": .string(BedsideVersion.current)],
            "implementation": ["description": "Bedside reference FHIR R4 server", "url": .string(baseURL)],
            "fhirVersion": "4.0.1",
            "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
            "format": ["json", "application/fhir+json"],
            "rest": [
                [
                    "mode": "server",
                    "documentation": .string(
                        "Every request except GET /fhir/metadata needs a bearer token from POST /auth/login then POST /auth/otp. Updates need If-Match, in transactions too. Reads and searches carry a weak ETag; If-None-Match with it answers 304. POST /fhir takes a transaction (POST and PUT entries, all or nothing) or a batch (GET entries only, each answered on its own). "
                            + ServerLimits.summary),
                    "security": [
                        "extension": [[
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [["url": "token", "valueUri": .string(String(baseURL.dropLast("/fhir".count)) + "/auth/token")]],
                        ]],
                        "cors": false,
                        "service": [[
                            "coding": [["system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"]]
                        ]],
                        "description": .string(
                            "People: password plus a one-time code sent by e-mail; random 256-bit bearer tokens, idle timeout 30 minutes, absolute 12 hours. "
                                + "Systems: SMART Backend Services (private_key_jwt, ES384 or RS384; see .well-known/smart-configuration), tokens of 5 minutes limited to their system scopes."),
                    ],
                    "resource": .array(resources),
                    "interaction": [["code": "transaction"], ["code": "batch"]],
                    // Bulk Data: for backend clients; the status URL and files are under /bulk.
                    "operation": [["name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"]],
                ]
            ],
        ]
    }
}
