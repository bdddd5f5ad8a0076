import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// `slipway predict`: one inference request to a deployment, through the gateway.
struct PredictCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Send one inference request to a deployment and print the answer.",
        discussion: """
            Give the inputs as NAME=JSON (nested lists; the shape is read from the nesting and the datatype from the model's
            metadata unless --datatype says it), or a whole Open Inference Protocol request with --request FILE (- for stdin):
              slipway predict digits --input 'input=[[0,0,5,13,9,1,0,0,...]]'
              slipway predict digits --request request.json --output json
            """)
    @Argument(help: "The deployment.") var deployment: String
    @Option(help: "Send it to this model version rather than by the traffic split.") var version: Int?
    @Option(name: .customLong("input"), help: "NAME=JSON: an input tensor as nested lists; repeat for more.") var inputs: [String] = []
    @Option(help: "The inputs' datatype (FP32, FP64, INT64, BYTES, …) when the metadata should not decide.") var datatype: String?
    @Option(name: .customLong("request"), help: "A file holding the whole request body (- for standard input).") var requestFile: String?
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let client = try options.client()
            let body: Data
            if let requestFile {
                body = requestFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: requestFile))
            } else {
                guard !inputs.isEmpty else { throw ValidationError("give --input NAME=JSON (repeat for more) or --request FILE") }
                var declared: [String: String] = [:]
                if datatype == nil {
                    let metadata = try await client.modelMetadata(deployment: deployment, version: version)
                    let object = try JSONSerialization.jsonObject(with: metadata) as? [String: Any]
                    for input in object?["inputs"] as? [[String: Any]] ?? [] {
                        if let name = input["name"] as? String, let type = input["datatype"] as? String { declared[name] = type }
                    }
                }
                var tensors: [[String: Any]] = []
                for item in inputs {
                    guard let equals = item.firstIndex(of: "=") else { throw ValidationError("--input must be NAME=JSON, not '\(item.prefix(60))'") }
                    let name = String(item[..<equals])
                    let json = String(item[item.index(after: equals)...])
                    guard let value = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) else {
                        throw ValidationError("the value of input '\(name)' is not JSON")
                    }
                    let shape = Self.shape(of: value)
                    let type = datatype ?? declared[name] ?? (Self.allStrings(value) ? "BYTES" : "FP32")
                    tensors.append(["name": name, "datatype": type, "shape": shape, "data": value is [Any] ? value : [value]])
                }
                body = try JSONSerialization.data(withJSONObject: ["inputs": tensors])
            }
            let answer = try await client.infer(deployment: deployment, version: version, body: body)
            if options.output == .json {
                Swift.print(String(decoding: answer, as: UTF8.self))
                return
            }
            guard let object = try JSONSerialization.jsonObject(with: answer) as? [String: Any] else {
                throw CLIError("the gateway's answer is not JSON")
            }
            Swift.print("model \(object["model_name"] as? String ?? deployment) version \(object["model_version"] as? String ?? "?")")
            let rows = (object["outputs"] as? [[String: Any]] ?? []).map { output -> [String] in
                let data = (try? JSONSerialization.data(withJSONObject: output["data"] ?? [], options: [.fragmentsAllowed])) ?? Data()
                let text = String(decoding: data, as: UTF8.self)
                return [
                    output["name"] as? String ?? "", output["datatype"] as? String ?? "",
                    "\((output["shape"] as? [Int]) ?? [])", text.count > 200 ? String(text.prefix(200)) + "…" : text,
                ]
            }
            Swift.print(Table(headers: ["OUTPUT", "DATATYPE", "SHAPE", "DATA"], rows: rows).rendered)
        }
    }

    /// The shape nested lists have (a scalar is one element).
    static func shape(of value: Any) -> [Int] {
        guard let list = value as? [Any] else { return [1] }
        guard let first = list.first, first is [Any] else { return [list.count] }
        return [list.count] + shape(of: first)
    }

    static func allStrings(_ value: Any) -> Bool {
        if let list = value as? [Any] { return !list.isEmpty && list.allSatisfy(allStrings) }
        return value is String
    }
}
