import Testing

@testable import BedsideCore

@Suite("Observation validation")
struct ResourceValidatorTests {
    let now = FHIRDateTime("2026-11-23T12:00:00Z")!.lowerBound
    var validator: ResourceValidator { ResourceValidator(now: now) }

    func observation(_ kind: MeasurementKind, _ values: [ObservationBuilder.Value], at effective: String = "2026-11-23T08:00:00+01:00") -> JSONValue {
        ObservationBuilder.observation(kind: kind, values: values, effective: effective, patientID: "p1", clientID: "c1")
    }

    func expressions(_ resource: JSONValue) -> [String] {
        validator.validate(resource, as: "Observation").compactMap(\.expression)
    }

    @Test("every kind Bedside records, in its unit, is accepted")
    func allKindsValid() {
        let samples: [(MeasurementKind, [ObservationBuilder.Value])] = [
            (.bloodPressure, [.init(part: .systolic, value: 135), .init(part: .diastolic, value: 85), .init(part: .pulseInPanel, value: 70)]),
            (.bodyWeight, [.init(part: .bodyWeight, literal: "82.40")]),
            (.heartRate, [.init(part: .heartRate, value: 64)]),
            (.oxygenSaturation, [.init(part: .oxygenSaturation, value: 96)]),
            (.bodyTemperature, [.init(part: .bodyTemperature, value: 37.2)]),
            (.respiratoryRate, [.init(part: .respiratoryRate, value: 16)]),
            (.glucose, [.init(part: .glucoseMolar, value: 6.1)]),
            (.glucose, [.init(part: .glucoseMass, value: 110)]),
        ]
        for (kind, values) in samples {
            #expect(validator.validate(observation(kind, values), as: "Observation").isEmpty, "\(kind)")
        }
    }

    @Test("one plausibility check: impossible outside the possible range (and for non-finite numbers), unusual outside the typical one")
    func plausibility() {
        let weight = MeasurementPart.bodyWeight
        #expect(weight.plausibility(of: weight.possibleRange.lowerBound) != .impossible)
        #expect(weight.plausibility(of: weight.possibleRange.lowerBound.nextDown) == .impossible)
        #expect(weight.plausibility(of: weight.possibleRange.upperBound.nextUp) == .impossible)
        #expect(weight.plausibility(of: (weight.typicalRange.lowerBound + weight.typicalRange.upperBound) / 2) == .typical)
        #expect(weight.plausibility(of: weight.typicalRange.upperBound.nextUp) == .unusual)
        #expect(weight.plausibility(of: .nan) == .impossible && weight.plausibility(of: .infinity) == .impossible)
        #expect(MeasurementPart.pressuresAreConsistent(systolic: 120, diastolic: 80))
        #expect(!MeasurementPart.pressuresAreConsistent(systolic: 80, diastolic: 80))
    }

    @Test("the server refuses exactly the values the check calls impossible, for every single-value kind, at both edges")
    func serverAgreesWithCheck() {
        let singles: [(MeasurementKind, MeasurementPart)] = MeasurementKind.allCases.compactMap { kind in
            kind.parts.count == 1 ? (kind, kind.parts[0]) : nil
        }
        #expect(singles.count >= 6)
        for (kind, part) in singles {
            for value in [part.possibleRange.lowerBound, part.possibleRange.upperBound, part.possibleRange.lowerBound - 1, part.possibleRange.upperBound + 1] {
                let refused = expressions(observation(kind, [.init(part: part, value: value)])).contains { $0.hasSuffix(".value") }
                #expect(refused == (part.plausibility(of: value) == .impossible), "\(kind) \(value)")
            }
        }
    }

    @Test("a wrong unit, an impossible value and a missing value each name their field")
    func fieldErrors() {
        var wrongUnit = observation(.bodyWeight, [.init(part: .bodyWeight, value: 80)]).objectValue!
        wrongUnit["valueQuantity"] = ["value": 176, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "lbs"]
        #expect(expressions(.object(wrongUnit)) == ["Observation.valueQuantity.code"])
        wrongUnit["valueQuantity"] = ["value": 176, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"]
        #expect(expressions(.object(wrongUnit)).isEmpty, "pounds are a unit the vital-signs profile allows")

        #expect(expressions(observation(.oxygenSaturation, [.init(part: .oxygenSaturation, value: 140)])) == ["Observation.valueQuantity.value"])
        #expect(expressions(observation(.bodyTemperature, [.init(part: .bodyTemperature, value: 3.7)])) == ["Observation.valueQuantity.value"])

        var noValue = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        noValue["valueQuantity"] = nil
        #expect(expressions(.object(noValue)) == ["Observation.valueQuantity"])

        var stringValue = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        stringValue["valueQuantity"] = ["value": "60", "system": "http://unitsofmeasure.org", "code": "/min"]
        #expect(expressions(.object(stringValue)) == ["Observation.valueQuantity.value"])
    }

    @Test("blood pressure needs systolic above diastolic, both present")
    func bloodPressure() {
        let inverted = observation(.bloodPressure, [.init(part: .systolic, value: 80), .init(part: .diastolic, value: 120)])
        #expect(expressions(inverted) == ["Observation.component"])
        let half = observation(.bloodPressure, [.init(part: .systolic, value: 120)])
        #expect(expressions(half) == ["Observation.component"])
    }

    @Test("any coding may carry the LOINC code, not only the first")
    func codingOrder() {
        var object = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        object["code"] = [
            "coding": [
                ["system": "http://snomed.info/sct", "code": "364075005"],
                ["system": "http://loinc.org", "code": "8867-4"],
            ]
        ]
        #expect(expressions(.object(object)).isEmpty)
        object["code"] = ["coding": [["system": "http://snomed.info/sct", "code": "364075005"]]]
        #expect(expressions(.object(object)).isEmpty, "a kind Bedside does not know is stored as it came")
        object["code"] = ["coding": []]
        #expect(expressions(.object(object)) == ["Observation.code.coding"], "but a code says something")
        object["code"] = nil
        #expect(expressions(.object(object)) == ["Observation.code"])
    }

    @Test("time: a time of day with an offset, not in the future")
    func effectiveTime() {
        let local = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: "2026-11-23T08:00:00")
        #expect(expressions(local) == ["Observation.effectiveDateTime"])
        for partial in ["2026-11-23", "2026-11", "2026"] {
            let dateOnly = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: partial)
            #expect(expressions(dateOnly).isEmpty, "FHIR allows a dateTime of any precision: \(partial)")
        }
        let future = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: "2026-11-24T08:00:00Z")
        #expect(expressions(future) == ["Observation.effectiveDateTime"])
        let slightSkew = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: "2026-11-23T12:10:00Z")
        #expect(expressions(slightSkew).isEmpty)
    }

    @Test("valid FHIR from other systems is accepted: periods, instants, extra components, dataAbsentReason, comparators, other kinds and codings")
    func otherSystems() {
        func with(_ base: JSONValue, _ change: (inout JSONObject) -> Void) -> JSONValue {
            var object = base.objectValue ?? [:]
            change(&object)
            return .object(object)
        }
        let heartRate = observation(.heartRate, [.init(part: .heartRate, value: 60)])
        let pressure = observation(.bloodPressure, [.init(part: .systolic, value: 135), .init(part: .diastolic, value: 85)])
        let accepted: [(String, JSONValue)] = [
            ("effectivePeriod", with(heartRate) { $0["effectiveDateTime"] = nil; $0["effectivePeriod"] = ["start": "2026-11-23T07:00:00Z", "end": "2026-11-23T07:05:00Z"] }),
            ("effectiveInstant", with(heartRate) { $0["effectiveDateTime"] = nil; $0["effectiveInstant"] = "2026-11-23T07:00:00.123Z" }),
            ("no category", with(heartRate) { $0["category"] = nil }),
            ("dataAbsentReason", with(heartRate) {
                $0["valueQuantity"] = nil
                $0["dataAbsentReason"] = ["coding": [["system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error"]]]
            }),
            ("comparator", with(heartRate) { $0["valueQuantity"] = ["value": 250, "comparator": ">", "system": "http://unitsofmeasure.org", "code": "/min"] }),
            ("mean arterial pressure", with(pressure) {
                var components = $0["component"]?.arrayValue ?? []
                components.append([
                    "code": ["coding": [["system": "http://loinc.org", "code": "8478-0"]]],
                    "valueQuantity": ["value": 102, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"],
                ])
                $0["component"] = .array(components)
            }),
            ("diastolic absent", with(pressure) {
                var components = $0["component"]?.arrayValue ?? []
                components[1] = ["code": ["coding": [["system": "http://loinc.org", "code": "8462-4"]]], "dataAbsentReason": ["text": "cuff slipped"]]
                $0["component"] = .array(components)
            }),
            ("serum glucose, a kind Bedside has no screen for", with(heartRate) {
                $0["code"] = ["coding": [["system": "http://loinc.org", "code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma"]]]
                $0["category"] = [["coding": [["system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"]]]]
                $0["valueQuantity"] = ["value": 95, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"]
            }),
            ("temperature in Fahrenheit", with(observation(.bodyTemperature, [.init(part: .bodyTemperature, value: 37)])) {
                $0["valueQuantity"] = ["value": 98.6, "unit": "F", "system": "http://unitsofmeasure.org", "code": "[degF]"]
            }),
        ]
        for (name, resource) in accepted {
            #expect(expressions(resource).isEmpty, "\(name): \(validator.validate(resource, as: "Observation").map(\.diagnostics))")
        }
        let refused: [(String, JSONValue, String)] = [
            ("two effective[x]", with(heartRate) { $0["effectiveInstant"] = "2026-11-23T07:00:00Z" }, "Observation.effectiveInstant"),
            ("a period backwards", with(heartRate) {
                $0["effectiveDateTime"] = nil
                $0["effectivePeriod"] = ["start": "2026-11-23T08:00:00Z", "end": "2026-11-23T07:00:00Z"]
            }, "Observation.effectivePeriod.start"),
            ("a vital sign without a time", with(heartRate) { $0["effectiveDateTime"] = nil }, "Observation.effectiveDateTime"),
            ("a value and dataAbsentReason", with(heartRate) { $0["dataAbsentReason"] = ["text": "x"] }, "Observation.dataAbsentReason"),
            ("an instant without a time", with(heartRate) { $0["effectiveDateTime"] = nil; $0["effectiveInstant"] = "2026-11-23" }, "Observation.effectiveInstant"),
        ]
        for (name, resource, expression) in refused {
            #expect(expressions(resource) == [expression], "\(name)")
        }
    }

    @Test("what Bedside writes names the FHIR vital-signs profile it conforms to (glucose, a laboratory value, none)")
    func profiles() {
        let expected: [MeasurementKind: String] = [
            .bloodPressure: "bp", .bodyWeight: "bodyweight", .heartRate: "heartrate", .oxygenSaturation: "oxygensat",
            .bodyTemperature: "bodytemp", .respiratoryRate: "resprate",
        ]
        for kind in MeasurementKind.allCases {
            let values = kind.parts.map { ObservationBuilder.Value(part: $0, value: ($0.typicalRange.lowerBound + $0.typicalRange.upperBound) / 2) }
            let written = observation(kind, kind == .bloodPressure ? [.init(part: .systolic, value: 130), .init(part: .diastolic, value: 80)] : values)
            let profile = written["meta"]?["profile"]?.arrayValue?.first?.stringValue
            #expect(profile == expected[kind].map { "http://hl7.org/fhir/StructureDefinition/" + $0 }, "\(kind)")
            #expect(expressions(written).isEmpty, "\(kind)")
        }
    }

    @Test("serum or plasma glucose from a laboratory is read as glucose, in its unit; what the reader cannot place is left out")
    func equivalentCodes() throws {
        var serum = observation(.glucose, [.init(part: .glucoseMass, value: 95)]).objectValue ?? [:]
        serum["id"] = "lab-1"
        serum["code"] = ["coding": [["system": "http://loinc.org", "code": "2345-7"]]]
        let record = try #require(ObservationReader.record(from: .object(serum)))
        #expect(record.kind == .glucose && record.literal(.glucoseMass) == "95")
        serum["code"] = ["coding": [["system": "http://loinc.org", "code": "14749-6"]]]
        serum["valueQuantity"] = ["value": 5.3, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"]
        #expect(ObservationReader.record(from: .object(serum))?.literal(.glucoseMolar) == "5.3")
        serum["valueQuantity"] = ["value": 250, "comparator": ">", "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"]
        #expect(ObservationReader.record(from: .object(serum)) == nil, "a value with a comparator is not an exact reading")
    }

    @Test("pounds, grams and Fahrenheit are the same quantity in kg and °C: read converted to the kind's digits, and checked as possible once converted")
    func profileUnits() throws {
        var weight = observation(.bodyWeight, [.init(part: .bodyWeight, value: 80)]).objectValue ?? [:]
        weight["id"] = "w-1"
        for (value, unit, expected) in [("185", "[lb_av]", "83.9"), ("3250", "g", "3.3"), ("80", "kg", "80")] {
            weight["valueQuantity"] = ["value": .number(value), "unit": .string(unit), "system": "http://unitsofmeasure.org", "code": .string(unit)]
            #expect(ObservationReader.record(from: .object(weight))?.literal(.bodyWeight) == expected, "\(value) \(unit)")
            #expect(expressions(.object(weight)).isEmpty)
        }
        weight["valueQuantity"] = ["value": 5000, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"]
        let refused = validator.validate(.object(weight), as: "Observation")
        #expect(refused.map(\.expression) == ["Observation.valueQuantity.value"])
        #expect(refused.first?.diagnostics.contains("5000 [lb_av] (2268 kg) is not a possible body weight") == true, "\(refused.map(\.diagnostics))")
        var temperature = observation(.bodyTemperature, [.init(part: .bodyTemperature, value: 37)]).objectValue ?? [:]
        temperature["id"] = "t-1"
        temperature["valueQuantity"] = ["value": 98.6, "unit": "F", "system": "http://unitsofmeasure.org", "code": "[degF]"]
        #expect(ObservationReader.record(from: .object(temperature))?.literal(.bodyTemperature) == "37")
        temperature["valueQuantity"] = ["value": 212, "unit": "F", "system": "http://unitsofmeasure.org", "code": "[degF]"]
        #expect(expressions(.object(temperature)) == ["Observation.valueQuantity.value"], "boiling is not a body temperature")
        for huge in ["1e10", "1e300", "-1e12"] {
            weight["valueQuantity"] = ["value": .number(huge), "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"]
            #expect(expressions(.object(weight)) == ["Observation.valueQuantity.value"], "\(huge) lb is no weight, though too large to convert")
        }
        weight["valueQuantity"] = ["value": 5000, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"]
        weight["status"] = "entered-in-error"
        #expect(expressions(.object(weight)).isEmpty, "a wrong reading stays withdrawable, however wrong")
        weight["status"] = "final"
        weight["valueQuantity"] = ["value": 80, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"]
        weight["meta"] = ["tag": [["system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"]]]
        #expect(expressions(.object(weight)) == ["Observation.meta.tag"], "a part read with _elements never replaces the whole")
        #expect(MeasurementPart.bodyWeight.convertedLiteral("1e308", from: "[lb_av]") == nil)
        #expect(MeasurementPart.bodyWeight.convertedLiteral("80", from: "[degF]") == nil)
    }

    @Test("a withdrawn measurement needs no value")
    func enteredInError() {
        var object = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        object["status"] = "entered-in-error"
        object["valueQuantity"] = nil
        #expect(expressions(.object(object)).isEmpty)
        object["status"] = "done"
        #expect(expressions(.object(object)) == ["Observation.status", "Observation.valueQuantity"])
    }

    @Test("the resource type and subject are checked")
    func structure() {
        #expect(validator.validate(["resourceType": "Patient"], as: "Observation").first?.expression == "Observation.resourceType")
        #expect(validator.validate("text", as: "Observation").first?.code == "structure")
        var object = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        object["subject"] = ["reference": "Group/g1"]
        #expect(expressions(.object(object)) == ["Observation.subject.reference"])
    }
}
