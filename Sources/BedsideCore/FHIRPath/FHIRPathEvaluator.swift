/// The iteration variables in force at a point of evaluation.
struct FHIRPathScope {
    /// `$this`, and what a path without a base navigates from.
    var this: [FHIRPathValue]
    /// `$index`, inside `where()`, `select()` and the other functions that iterate.
    var index: Int?
    /// `$total`, inside `aggregate()`.
    var total: [FHIRPathValue]?

    /// The scope for one item of an iteration.
    func iterating(_ item: FHIRPathValue, at index: Int) -> FHIRPathScope {
        FHIRPathScope(this: [item], index: index, total: total)
    }
}

/// Walks a syntax tree over a context. The recursion follows the tree, whose depth the parser bounds.
struct FHIRPathEvaluator {
    let context: FHIRPathContext
    let rootScope: FHIRPathScope

    init(context: FHIRPathContext) {
        self.context = context
        rootScope = FHIRPathScope(this: context.focusValues, index: nil, total: nil)
    }

    /// The local offset, kept within a day.
    var defaultOffset: Int { max(-86_400, min(86_400, context.utcOffsetSeconds)) }

    /// Each case that is not a leaf goes to its own function, so this one, which every level of the tree
    /// passes through, keeps a small stack frame.
    func evaluate(_ syntax: FHIRPathSyntax, in scope: FHIRPathScope) throws(FHIRPathError) -> [FHIRPathValue] {
        switch syntax.kind {
        case .literal(let value):
            return [value]
        case .emptyCollection:
            return []
        case .this:
            return scope.this
        case .member(let base, let name):
            return try member(name, of: base, in: scope)
        case .function(let base, let function, let arguments):
            return try invoke(function, on: base, arguments, in: scope, at: syntax.position)
        case .binary(let binaryOperator, let left, let right):
            return try binary(binaryOperator, left, right, in: scope, at: syntax.position)
        case .unary(let unaryOperator, let operand):
            return try unary(unaryOperator, try evaluate(operand, in: scope), at: syntax.position)
        default:
            return try evaluateOther(syntax, in: scope)
        }
    }

    @inline(never)
    private func member(_ name: String, of base: FHIRPathSyntax?, in scope: FHIRPathScope) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let base else { return navigateFromThis(scope.this, to: name) }
        return navigate(try evaluate(base, in: scope), to: name)
    }

    @inline(never)
    private func invoke(
        _ function: FHIRPathFunction, on base: FHIRPathSyntax?, _ arguments: [FHIRPathSyntax], in scope: FHIRPathScope,
        at position: FHIRPathPosition
    ) throws(FHIRPathError) -> [FHIRPathValue] {
        var input = scope.this
        if let base { input = try evaluate(base, in: scope) }
        return try call(FHIRPathCall(function: function, input: input, arguments: arguments, scope: scope, hasBase: base != nil, position: position))
    }

    /// Indexers, variables, `$index`, `$total` and type tests.
    @inline(never)
    private func evaluateOther(_ syntax: FHIRPathSyntax, in scope: FHIRPathScope) throws(FHIRPathError) -> [FHIRPathValue] {
        switch syntax.kind {
        case .indexer(let base, let index):
            let items = try evaluate(base, in: scope)
            guard let position = try integer(try evaluate(index, in: scope), for: "an index", at: index.position) else { return [] }
            return items.indices.contains(position) ? [items[position]] : []
        case .environmentVariable(let name):
            return try variable(name, at: syntax.position)
        case .index:
            guard let index = scope.index else {
                throw failure("$index is only defined inside where(), select(), all(), exists(), repeat() and aggregate()", at: syntax.position)
            }
            return [.integer(index)]
        case .total:
            guard let total = scope.total else { throw failure("$total is only defined inside aggregate()", at: syntax.position) }
            return total
        case .typeTest(let typeOperator, let operand, let type):
            guard let item = try single(try evaluate(operand, in: scope), for: "'\(typeOperator.rawValue)'", at: syntax.position) else { return [] }
            switch typeOperator {
            case .is: return [.boolean(type.matches(item))]
            case .as: return type.matches(item) ? [item] : []
            }
        case .typeName(let type):
            throw failure("the type name '\(type)' is not a value", at: syntax.position)
        default:
            return try evaluate(syntax, in: scope)
        }
    }

    // MARK: - Navigation

    /// A path's first step: a resource type name (`Patient.name` on a Patient) selects the resource itself.
    private func navigateFromThis(_ items: [FHIRPathValue], to name: String) -> [FHIRPathValue] {
        var result: [FHIRPathValue] = []
        for item in items {
            if case .element(let element) = item, element.isResource, element.typeName == name {
                result.append(item)
            } else {
                result += children(of: item, named: name)
            }
        }
        return result
    }

    private func navigate(_ items: [FHIRPathValue], to name: String) -> [FHIRPathValue] {
        var result: [FHIRPathValue] = []
        for item in items { result += children(of: item, named: name) }
        return result
    }

    func children(of item: FHIRPathValue, named name: String) -> [FHIRPathValue] {
        switch item {
        case .element(let element):
            return element.children(named: name)
        case .quantity(let quantity):
            switch name {
            case "value": return [.decimal(quantity.value)]
            case "unit", "code": return [.string(quantity.unit)]
            case "system": return [.string(FHIRPathUnits.ucumSystem)]
            default: return []
            }
        default:
            return []
        }
    }

    // MARK: - Variables

    private func variable(_ name: String, at position: FHIRPathPosition) throws(FHIRPathError) -> [FHIRPathValue] {
        if let value = context.variables[name] { return value }
        switch name {
        case "resource", "rootResource":
            return context.resourceValues
        case "context":
            return context.focusValues
        case "questionnaire":
            guard let questionnaire = context.questionnaire else { throw undefined(name, "no Questionnaire was given", at: position) }
            return FHIRPathValue.collection(from: questionnaire, typeName: nil, linkId: nil, path: "%questionnaire")
        case "qitem":
            guard let item = context.questionnaireItem else { throw undefined(name, "no Questionnaire item was given", at: position) }
            return FHIRPathValue.collection(from: item, typeName: nil, linkId: nil, path: "%qitem")
        case "ucum":
            return [.string(FHIRPathUnits.ucumSystem)]
        case "sct":
            return [.string("http://snomed.info/sct")]
        case "loinc":
            return [.string("http://loinc.org")]
        default:
            throw undefined(name, "it is neither built in nor one of the form's variables", at: position)
        }
    }

    private func undefined(_ name: String, _ reason: String, at position: FHIRPathPosition) -> FHIRPathError {
        FHIRPathError(.undefinedVariable(name), "the variable '%\(name)' is not defined: \(reason)", at: position)
    }

    // MARK: - Singletons

    @inline(never)
    func failure(_ message: String, at position: FHIRPathPosition) -> FHIRPathError {
        FHIRPathError(.evaluation, message, at: position)
    }

    /// The one item of a collection that must have at most one; `nil` when empty.
    func single(_ collection: [FHIRPathValue], for what: String, at position: FHIRPathPosition) throws(FHIRPathError) -> FHIRPathValue? {
        guard collection.count <= 1 else {
            throw failure("\(what) needs a single value, but got a collection of \(collection.count)", at: position)
        }
        return collection.first
    }

    /// A collection used as a Boolean: empty is unknown (`nil`), a Boolean is itself, any other single
    /// item is `true`, several items are an error.
    func condition(_ collection: [FHIRPathValue], for what: String, at position: FHIRPathPosition) throws(FHIRPathError) -> Bool? {
        guard let item = try single(collection, for: what, at: position) else { return nil }
        if case .boolean(let flag) = item { return flag }
        return true
    }

    func integer(_ collection: [FHIRPathValue], for what: String, at position: FHIRPathPosition) throws(FHIRPathError) -> Int? {
        guard let item = try single(collection, for: what, at: position) else { return nil }
        switch item {
        case .integer(let value): return value
        case .decimal(let value) where value.isWhole: return value.intValue
        default: throw failure("\(what) must be an integer, not \(item.typeName)", at: position)
        }
    }

    func string(_ collection: [FHIRPathValue], for what: String, at position: FHIRPathPosition) throws(FHIRPathError) -> String? {
        guard let item = try single(collection, for: what, at: position) else { return nil }
        guard case .string(let text) = item else { throw failure("\(what) must be a string, not \(item.typeName)", at: position) }
        return text
    }
}
