extension RunSearchFields: SearchSubject, DefaultOrdered {
    public static let bareKeyKind: SearchKey.Kind? = .attribute
    public static let allowedKinds: Set<SearchKey.Kind> = [.metric, .param, .tag, .attribute, .dataset]
    /// Run attributes, and whether each is numeric.
    public static let attributes: [String: Bool] = [
        "run_id": false, "run_name": false, "status": false, "user_id": false, "artifact_uri": false, "lifecycle_stage": false,
        "experiment_id": false, "start_time": true, "end_time": true,
    ]

    public func value(for key: SearchKey) -> SearchValue? {
        switch key.kind {
        case .metric: return metrics[key.name].map(SearchValue.number)
        case .param: return params[key.name].map(SearchValue.string)
        case .tag: return tags[key.name].map(SearchValue.string)
        case .dataset:
            let values: [String] =
                switch key.name {
                case "name": datasets.map(\.name)
                case "digest": datasets.map(\.digest)
                default: datasets.compactMap(\.context)
                }
            return values.isEmpty ? nil : .strings(values)
        case .attribute:
            switch key.name {
            case "run_id": return .string(runID)
            case "run_name": return .string(runName)
            case "status": return .string(status)
            case "user_id": return .string(userID)
            case "artifact_uri": return .string(artifactURI)
            case "lifecycle_stage": return .string(lifecycleStage)
            case "experiment_id": return .string(experimentID)
            case "start_time": return .number(Double(startTime))
            case "end_time": return endTime.map { .number(Double($0)) }
            default: return nil
            }
        }
    }

    /// MLflow's default: newest first, then by run id.
    public static func defaultOrder(_ a: RunSearchFields, _ b: RunSearchFields) -> Bool {
        a.startTime != b.startTime ? a.startTime > b.startTime : a.runID < b.runID
    }
}

extension ExperimentSearchFields: SearchSubject, DefaultOrdered {
    public static let bareKeyKind: SearchKey.Kind? = .attribute
    public static let allowedKinds: Set<SearchKey.Kind> = [.tag, .attribute]
    public static let attributes: [String: Bool] = [
        "name": false, "experiment_id": false, "lifecycle_stage": false, "creation_time": true, "last_update_time": true,
    ]

    public func value(for key: SearchKey) -> SearchValue? {
        switch key.kind {
        case .tag: return tags[key.name].map(SearchValue.string)
        case .attribute:
            switch key.name {
            case "name": return .string(name)
            case "experiment_id": return .string(experimentID)
            case "lifecycle_stage": return .string(lifecycleStage)
            case "creation_time": return .number(Double(creationTime))
            case "last_update_time": return .number(Double(lastUpdateTime))
            default: return nil
            }
        default: return nil
        }
    }

    /// MLflow's default: newest first, then by id.
    public static func defaultOrder(_ a: ExperimentSearchFields, _ b: ExperimentSearchFields) -> Bool {
        if a.creationTime != b.creationTime { return a.creationTime > b.creationTime }
        return (Int64(a.experimentID) ?? 0) < (Int64(b.experimentID) ?? 0)
    }
}

extension RegistrySearchFields: SearchSubject, DefaultOrdered {
    public static let bareKeyKind: SearchKey.Kind? = .attribute
    public static var missingMatchesNotEqual: Bool { true }
    public static let allowedKinds: Set<SearchKey.Kind> = [.tag, .attribute]
    public static let attributes: [String: Bool] = [
        "name": false, "version": false, "run_id": false, "source_path": false, "creation_timestamp": true, "last_updated_timestamp": true,
    ]

    public func value(for key: SearchKey) -> SearchValue? {
        switch key.kind {
        case .tag: return tags[key.name].map(SearchValue.string)
        case .attribute:
            switch key.name {
            case "name": return .string(name)
            case "version": return version.map(SearchValue.string)
            case "run_id": return runID.map(SearchValue.string)
            case "source_path": return source.map(SearchValue.string)
            case "creation_timestamp": return .number(Double(creationTime))
            case "last_updated_timestamp": return .number(Double(lastUpdatedTime))
            default: return nil
            }
        default: return nil
        }
    }

    /// By name, then by version number.
    public static func defaultOrder(_ a: RegistrySearchFields, _ b: RegistrySearchFields) -> Bool {
        if a.name != b.name { return a.name < b.name }
        return (Int(a.version ?? "") ?? 0) < (Int(b.version ?? "") ?? 0)
    }
}

extension LoggedModelSearchFields: SearchSubject, DefaultOrdered {
    public static let bareKeyKind: SearchKey.Kind? = .attribute
    public static let allowedKinds: Set<SearchKey.Kind> = [.metric, .param, .tag, .attribute]
    public static let attributes: [String: Bool] = [
        "model_id": false, "name": false, "status": false, "model_type": false, "source_run_id": false, "creation_timestamp": true,
        "creation_time": true, "last_updated_timestamp": true,
    ]

    public func value(for key: SearchKey) -> SearchValue? {
        switch key.kind {
        case .metric: return metrics[key.name].map(SearchValue.number)
        case .param: return params[key.name].map(SearchValue.string)
        case .tag: return tags[key.name].map(SearchValue.string)
        case .attribute:
            switch key.name {
            case "model_id": return .string(modelID)
            case "name": return .string(name)
            case "status": return .string(status)
            case "model_type": return .string(modelType)
            case "source_run_id": return .string(sourceRunID)
            case "creation_timestamp", "creation_time": return .number(Double(creationTime))
            case "last_updated_timestamp": return .number(Double(lastUpdatedTime))
            default: return nil
            }
        case .dataset: return nil
        }
    }

    /// Newest first, then by id.
    public static func defaultOrder(_ a: LoggedModelSearchFields, _ b: LoggedModelSearchFields) -> Bool {
        a.creationTime != b.creationTime ? a.creationTime > b.creationTime : a.modelID < b.modelID
    }
}

public typealias LoggedModelFilter = SearchFilter<LoggedModelSearchFields>
public typealias LoggedModelOrdering = SearchOrdering<LoggedModelSearchFields>
