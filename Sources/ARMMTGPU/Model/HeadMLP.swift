/// Steps 6 and 7 of docs/MODEL.md: an MLP with ReLU between its layers (`head.fc1..fc3`,
/// `aux_head.fc1..fc2`) over every candidate row. Its input is a concatenation the model
/// writes column by column into `input`.
final class HeadMLP {
    let layers: [Linear]
    let rows: Int
    /// `[N, widths[0]]`, written by the model before `forward`.
    let input: Tensor
    /// Pre-activations of the hidden layers (bias not yet added), and their ReLU outputs.
    private let pre: [Tensor]
    private let act: [Tensor]
    /// `[N, widths.last]`: the logits.
    let output: Tensor
    /// `∂L/∂output`, written by the loss before `backward`.
    let dOutput: Tensor
    private let dAct: [Tensor]
    /// `[N, widths[0]]`: `∂L/∂input` after `backward`.
    let dInput: Tensor

    init(_ f: ParameterFactory, _ name: String, rows: Int, widths: [Int]) throws {
        let be = f.backend
        self.rows = rows
        layers = try (1..<widths.count).map { try Linear(f, "\(name).fc\($0)", inputs: widths[$0 - 1], outputs: widths[$0]) }
        input = try be.makeTensor([rows, widths[0]])
        pre = try widths.dropFirst().dropLast().map { try be.makeTensor([rows, $0]) }
        act = try widths.dropFirst().dropLast().map { try be.makeTensor([rows, $0]) }
        output = try be.makeTensor([rows, widths.last!])
        dOutput = try be.makeTensor([rows, widths.last!])
        dAct = try widths.dropFirst().dropLast().map { try be.makeTensor([rows, $0]) }
        dInput = try be.makeTensor([rows, widths[0]])
    }

    func forward(_ be: Backend) throws {
        var x = input
        for (i, layer) in layers.enumerated() {
            if i == layers.count - 1 {
                try layer.forward(be, rows: rows, x: Slab(x), y: Slab(output))
            } else {
                try layer.forward(be, rows: rows, x: Slab(x), y: Slab(pre[i]), addBias: false)
                try be.biasActivationForward(BiasActivationParameters(.relu, rows: rows, cols: layer.outputs), x: pre[i],
                                             bias: layer.bias!.value, y: act[i])
                x = act[i]
            }
        }
    }

    func backward(_ be: Backend, ones: Tensor) throws {
        var dy = dOutput
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[i]
            let x = i == 0 ? input : act[i - 1]
            let dx = i == 0 ? dInput : dAct[i - 1]
            try layer.backward(be, rows: rows, dy: Slab(dy), x: Slab(x), dx: Slab(dx), ones: ones, biasGradient: i == layers.count - 1)
            if i > 0 {
                let below = layers[i - 1]
                // dAct → ∂L/∂(pre + bias) in place, and the bias gradient of the layer below.
                try be.biasActivationBackward(BiasActivationParameters(.relu, rows: rows, cols: below.outputs), dy: dx,
                                              x: pre[i - 1], bias: below.bias!.value, dx: dx, dBias: below.bias!.grad)
                dy = dx
            }
        }
    }
}
