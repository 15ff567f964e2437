@testable import ARMMTGPU
import Foundation
import XCTest

/// Config JSON keys, the prm preset, and validation messages that name the key.
final class ModelConfigTests: XCTestCase {
    private var schema: DatasetSchema { TinyModelData.shared.schema }

    private func decode(_ json: String) throws -> ModelConfig {
        try ModelConfig.decode(json: Data(json.utf8))
    }

    private func assertUsageError(_ body: @autoclosure () throws -> Any, mentions key: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error naming \(key)", file: file, line: line)
        } catch let e as EngineError {
            XCTAssertEqual(e.kind, .usage, file: file, line: line)
            XCTAssertTrue(e.message.contains(key), "\"\(e.message)\" does not name \(key)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testDecodesEveryKeyAndRoundTrips() throws {
        let c = try decode("""
        {"modalities": ["image"], "fusion": "concat", "gate": "vector", "behaviour_attention": false, "mpsa": "single",
         "mpsa_qk": "r", "interaction": "none", "aux_weight": 0.5, "aux_input": "r", "loss": "listwise", "width": 32, "heads": 2, "blocks": 2, "embedding_width": 8,
         "cafu_hidden": 16, "seed": 9}
        """)
        XCTAssertEqual(c.modalities, [.image])
        XCTAssertEqual(c.fusion, .concat)
        XCTAssertEqual(c.gate, .vector)
        XCTAssertFalse(c.behaviourAttention)
        XCTAssertEqual(c.mpsa, .single)
        XCTAssertEqual(c.mpsaQueryKey, .r)
        XCTAssertEqual(c.interaction, HeadInteraction.none)
        XCTAssertEqual(c.auxWeight, 0.5)
        XCTAssertEqual(c.auxInput, .r)
        XCTAssertEqual(c.loss, .listwise)
        XCTAssertEqual([c.width, c.heads, c.blocks, c.embeddingWidth, c.cafuHidden], [32, 2, 2, 8, 16])
        XCTAssertEqual(c.seed, 9)
        XCTAssertEqual(try ModelConfig.decode(json: try c.encodedJSON()), c)
        XCTAssertEqual(try decode("{}"), ModelConfig())
    }

    func testPresetPRM() throws {
        let c = try decode(#"{"preset": "prm", "width": 16}"#)
        XCTAssertEqual(c.modalities, [])
        XCTAssertFalse(c.behaviourAttention)
        XCTAssertEqual(c.mpsa, .single)
        XCTAssertEqual(c.auxWeight, 0)
        XCTAssertEqual(c.width, 16)
        XCTAssertEqual(c, ModelConfig(preset: .prm).with { $0.width = 16 })
        // Restating a preset value is fine; contradicting one names the key.
        XCTAssertNoThrow(try decode(#"{"preset": "prm", "mpsa": "single"}"#))
        assertUsageError(try decode(#"{"preset": "prm", "mpsa": "multi"}"#), mentions: "mpsa")
        assertUsageError(try decode(#"{"preset": "prm", "modalities": ["text"]}"#), mentions: "modalities")
        var edited = ModelConfig(preset: .prm)
        edited.auxWeight = 0.3
        assertUsageError(try edited.validate(schema: schema), mentions: "aux_weight")
    }

    func testErrorsNameTheKey() throws {
        assertUsageError(try decode(#"{"widht": 64}"#), mentions: "widht")
        assertUsageError(try decode(#"{"fusion": "sum"}"#), mentions: "fusion")
        assertUsageError(try decode(#"{"modalities": ["audio"]}"#), mentions: "modalities")
        assertUsageError(try decode(#"{"width": "wide"}"#), mentions: "width")
        assertUsageError(try decode(#"{"mpsa_qk": "u"}"#), mentions: "mpsa_qk")
        assertUsageError(try decode(#"{"aux_input": "product"}"#), mentions: "aux_input")
        func invalid(_ change: (inout ModelConfig) -> Void, _ key: String, file: StaticString = #filePath, line: UInt = #line) {
            var c = ModelConfig()
            change(&c)
            assertUsageError(try c.validate(schema: schema), mentions: key, file: file, line: line)
            assertUsageError(try ARMMTModel(config: c, schema: schema, backend: CPUBackend(), maxBatch: 2), mentions: key,
                             file: file, line: line)
        }
        invalid({ $0.width = 30; $0.heads = 4 }, "heads")
        invalid({ $0.heads = 3; $0.width = 48 }, "heads")
        invalid({ $0.auxWeight = -0.1 }, "aux_weight")
        invalid({ $0.blocks = 0 }, "blocks")
        invalid({ $0.width = 0 }, "width")
        invalid({ $0.embeddingWidth = 0 }, "embedding_width")
        invalid({ $0.cafuHidden = 0 }, "cafu_hidden")
        invalid({ $0.modalities = [.text, .text] }, "modalities")
        // Odd heads are fine without the two perspectives.
        var single = ModelConfig()
        single.heads = 1
        single.mpsa = .single
        XCTAssertNoThrow(try single.validate(schema: schema))

        var noK = schema
        noK.dims.kMax = 0
        assertUsageError(try ModelConfig().validate(schema: noK), mentions: "k_max")
        var noText = schema
        noText.dims.text = 0
        assertUsageError(try ModelConfig().validate(schema: noText), mentions: "modalities")
        assertUsageError(try ARMMTModel(config: ModelConfig(), schema: schema, backend: CPUBackend(), maxBatch: 0),
                         mentions: "batch")
    }
}

extension ModelConfig {
    func with(_ change: (inout ModelConfig) -> Void) -> ModelConfig {
        var c = self
        change(&c)
        return c
    }
}
