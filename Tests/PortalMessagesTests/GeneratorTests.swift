import Foundation
import XCTest

/// scripts/gen_swift_messages.py must refuse anything outside the proto3
/// subset it understands, loudly and without writing files.
final class GeneratorTests: XCTestCase {
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private struct Outcome {
        var status: Int32
        var stderr: String
        var outputFiles: [String]
    }

    private func generate(_ proto: String) throws -> Outcome {
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let python else { throw XCTSkip("python3 not found") }
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("gen-swift-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temp) }
        let protoDir = temp.appendingPathComponent("proto/portal/v1")
        try FileManager.default.createDirectory(at: protoDir, withIntermediateDirectories: true)
        let file = protoDir.appendingPathComponent("sample.proto")
        try proto.write(to: file, atomically: true, encoding: .utf8)
        let out = temp.appendingPathComponent("out")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.repositoryRoot.appendingPathComponent("scripts/gen_swift_messages.py").path,
            "--proto-root", temp.appendingPathComponent("proto").path, "--out", out.path, file.path,
        ]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errorText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        return Outcome(status: process.terminationStatus, stderr: errorText, outputFiles: files)
    }

    private func assertRefused(
        _ body: String, mentioning phrase: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let outcome = try generate("syntax = \"proto3\";\npackage portal.v1;\n" + body)
        XCTAssertNotEqual(outcome.status, 0, "accepted:\n\(body)", file: file, line: line)
        XCTAssertTrue(outcome.stderr.contains(phrase), "stderr: \(outcome.stderr)", file: file, line: line)
        XCTAssertEqual(outcome.outputFiles, [], file: file, line: line)
    }

    func testGeneratesTheSupportedSubset() throws {
        let outcome = try generate(
            """
            syntax = "proto3";
            package portal.v1;
            // A sample.
            message Sample {
              enum Mode { MODE_UNSPECIFIED = 0; MODE_ON = 1; }
              reserved 9;
              int64 id = 1;
              repeated string tags = 2;
              map<string, string> labels = 3;
              oneof limit_value { uint32 limit = 4; }
              Mode mode = 5;
            }
            service Samples { rpc Get(Sample) returns (Sample); }
            """)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(outcome.outputFiles, ["Sample.pb.swift"])
    }

    func testRefusesMultiFieldOneofs() throws {
        try assertRefused("message M { oneof v { int32 a = 1; string b = 2; } }", mentioning: "one-field oneofs")
    }

    func testRefusesOtherMapTypes() throws {
        try assertRefused("message M { map<string, int32> m = 1; }", mentioning: "map<string, string>")
    }

    func testRefusesProto2() throws {
        let outcome = try generate("syntax = \"proto2\";\npackage portal.v1;\nmessage M { optional int32 a = 1; }\n")
        XCTAssertNotEqual(outcome.status, 0)
        XCTAssertTrue(outcome.stderr.contains("proto3"), outcome.stderr)
        XCTAssertEqual(outcome.outputFiles, [])
    }

    func testRefusesUnsupportedFieldsAndStatements() throws {
        try assertRefused("message M { double d = 1; }", mentioning: "double")
        try assertRefused("message M { optional int32 a = 1; }", mentioning: "optional")
        try assertRefused("message M { message N {} }", mentioning: "nested messages")
        try assertRefused("option java_package = \"x\";", mentioning: "option")
        try assertRefused("message M { int32 a = 1 [deprecated = true]; }", mentioning: "field options")
        try assertRefused("message M { Unknown u = 1; }", mentioning: "unknown type")
        try assertRefused("message M { int32 a = 1; int32 b = 1; }", mentioning: "used twice")
        try assertRefused("/* block */ message M {}", mentioning: "block comments")
        try assertRefused("enum E { E_ONE = 1; }", mentioning: "must be 0")
        try assertRefused("message M {} service S { rpc A(stream M) returns (M); }", mentioning: "streaming")
        try assertRefused("extend M { int32 x = 100; }", mentioning: "extend")
    }
}
