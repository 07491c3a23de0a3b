"""The model zoo: parameter counts from the literature, CBAM as published, the switches, partial ImageNet
loading, freezing and per-stage learning rates, more backbones."""

from __future__ import annotations

import itertools
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck
from torchvision.ops.misc import FrozenBatchNorm2d

from artworks.errors import ArtworksError
from artworks.models import build_model, get_backbone, parameter_counts, stage_param_groups
from artworks.models.cbam import CBAM, ChannelGate, SpatialGate
from artworks.models.modifications import CBAMBottleneck, apply_modifications
from artworks.models.weights import load_matching, read_state_dict

BLOCKS = 16  # Bottlenecks in a ResNet-50: 3 + 4 + 6 + 3


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        ({}, 25_557_032),  # torchvision's resnet50
        ({"attention": "cbam"}, 28_089_624),  # the CBAM paper's ResNet-50 + CBAM
        ({"depthwise": True}, 14_273_768),
    ],
)
def test_resnet50_parameter_counts_at_1000_classes(switches: dict, expected: int) -> None:
    assert parameter_counts(build_model(1000, **switches)) == {"total": expected, "trainable": expected}


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet101", 44_549_160),
        ("resnet152", 60_192_808),
    ],
)
def test_other_torchvision_resnets_build_through_the_registry(arch: str, expected: int) -> None:
    assert parameter_counts(build_model(1000, arch=arch))["total"] == expected


def test_unknown_arch_and_switches_on_basic_block_resnets_are_user_errors() -> None:
    with pytest.raises(ArtworksError, match="resnet50"):
        build_model(4, arch="resnet5O")
    with pytest.raises(ArtworksError, match=r"Bottleneck ResNets only \(resnet50, resnet101, resnet152\)"):
        build_model(4, arch="resnet18", attention="cbam")
    with pytest.raises(ArtworksError, match="activation"):
        build_model(4, activation="swish")
    with pytest.raises(
        ArtworksError, match=r"^model\.net\.attention must be one of \['none', 'cbam'\], got 'se'"
    ):
        build_model(4, attention="se")


# --- CBAM -------------------------------------------------------------------------------------------------


def test_channel_gate_gives_one_weight_in_0_1_per_channel() -> None:
    torch.manual_seed(0)
    gate, x = ChannelGate(64), torch.randn(3, 64, 9, 9) * 5
    weights = gate.attention(x)
    assert weights.shape == (3, 64, 1, 1)
    assert ((weights > 0) & (weights < 1)).all()
    torch.testing.assert_close(gate(x), x * weights)


def test_spatial_gate_is_one_map_per_position_and_local() -> None:
    torch.manual_seed(0)
    gate = SpatialGate().eval()
    nn.init.ones_(gate.bn.weight)  # at init the weight is 0 and the map a flat 0.5; see the init test
    x = torch.randn(2, 32, 16, 16)
    att = gate.attention(x)
    assert att.shape == (2, 1, 16, 16)
    assert ((att > 0) & (att < 1)).all()
    changed = x.clone()
    changed[0, :, 2, 3] += 10.0  # one position of one image
    diff = (gate.attention(changed) - att).abs()[:, 0] > 0
    assert diff[0, 2, 3] and not diff[1].any()
    rows, cols = torch.nonzero(diff[0], as_tuple=True)
    assert rows.max() - 2 <= 3 and cols.max() - 3 <= 3 and rows.min() >= 0  # within the 7x7 conv's reach
    torch.testing.assert_close(gate(x), x * att)


def test_cbam_keeps_its_input_shape_and_starts_as_the_reference_code() -> None:
    cbam = CBAM(256)
    for shape in [(2, 256, 7, 7), (1, 256, 13, 5)]:
        assert cbam(torch.randn(shape)).shape == shape
    assert (cbam.spatial.bn.weight == 0).all() and (cbam.spatial.bn.bias == 0).all()
    assert all((m.bias == 0).all() for m in cbam.channel.mlp if isinstance(m, nn.Linear))
    assert cbam.spatial.conv.bias is None
    x = torch.randn(2, 256, 6, 6)
    torch.testing.assert_close(cbam.eval().spatial.attention(x), torch.full((2, 1, 6, 6), 0.5))


def _reference_cbam(cbam: CBAM, x: torch.Tensor) -> torch.Tensor:
    """CBAM as the paper writes it, from the module's own parameters (spatial BatchNorm in eval mode)."""
    first, second = cbam.channel.mlp[1], cbam.channel.mlp[3]

    def mlp(v: torch.Tensor) -> torch.Tensor:
        return F.linear(F.relu(F.linear(v, first.weight, first.bias)), second.weight, second.bias)

    avg, top = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
    x = x * torch.sigmoid(mlp(avg) + mlp(top))[:, :, None, None]
    pooled = torch.cat([x.max(dim=1, keepdim=True).values, x.mean(dim=1, keepdim=True)], dim=1)
    bn = cbam.spatial.bn
    z = F.conv2d(pooled, cbam.spatial.conv.weight, padding=3)
    z = (z - bn.running_mean.view(1, -1, 1, 1)) / torch.sqrt(bn.running_var.view(1, -1, 1, 1) + 1e-5)
    return x * torch.sigmoid(z * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1))


def test_cbam_computes_the_published_channel_then_spatial_gate() -> None:
    torch.manual_seed(0)
    cbam = CBAM(32)
    assert [m.out_features for m in cbam.channel.mlp if isinstance(m, nn.Linear)] == [2, 32]  # C/16
    assert ChannelGate(64).mlp[1].out_features == 4 and SpatialGate().conv.kernel_size == (7, 7)
    assert CBAM(64, reduction=8).channel.mlp[1].out_features == 8  # another reduction is passed on
    block = get_backbone("resnet50").create().layer1[0]
    assert CBAMBottleneck(block, reduction=4).cbam.channel.mlp[1].out_features == 256 // 4
    with torch.no_grad():  # non-trivial BatchNorm statistics and affine values
        for param in (*cbam.channel.mlp.parameters(), cbam.spatial.bn.weight, cbam.spatial.bn.bias):
            param.normal_(0, 0.5)
        cbam.spatial.bn.running_mean.fill_(0.3)
        cbam.spatial.bn.running_var.fill_(0.01)  # small: its eps matters
    x = torch.randn(2, 32, 9, 11) * 2
    torch.testing.assert_close(cbam.eval()(x), _reference_cbam(cbam, x))


def test_the_spatial_gate_is_initialised_and_updated_as_in_the_reference_code() -> None:
    torch.manual_seed(0)
    weights = torch.cat([SpatialGate().conv.weight.flatten() for _ in range(50)])
    # Kaiming normal, mode fan_out: std sqrt(2 / (1 output channel x 7 x 7)), not fan_in's sqrt(2 / 98)
    assert weights.std().item() == pytest.approx((2 / 49) ** 0.5, rel=0.05)
    gate = SpatialGate().train()
    x = torch.randn(4, 8, 10, 10)
    pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
    batch_mean = F.conv2d(pooled, gate.conv.weight, padding=3).mean()
    gate(x)  # BatchNorm momentum 0.01: the running mean moves 1 % of the way
    torch.testing.assert_close(gate.bn.running_mean, (0.01 * batch_mean).view(1))


def test_cbam_sits_after_bn3_before_the_residual_addition() -> None:
    model = build_model(4, attention="cbam").eval()
    block = model.layer1[1]  # no downsample: the identity is the input itself
    assert isinstance(block, CBAMBottleneck)
    x = torch.randn(1, 256, 8, 8)
    seen = {}
    block.bn3.register_forward_hook(lambda m, i, out: seen.setdefault("bn3", out))
    block.cbam.register_forward_hook(lambda m, i, out: seen.setdefault("cbam_in", i[0]))
    block.cbam = _ZeroOut(block.cbam)  # a CBAM that outputs zeros leaves only the residual: relu(x)
    torch.testing.assert_close(block(x), F.relu(x))
    torch.testing.assert_close(seen["cbam_in"], seen["bn3"])


class _ZeroOut(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) * 0


# --- the switches -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "depthwise", "attention"),
    list(itertools.product(["relu", "gelu"], [False, True], ["none", "cbam"])),
)
def test_every_switch_combination_builds_and_trains_a_step(
    activation: str, depthwise: bool, attention: str
) -> None:
    torch.manual_seed(0)
    model = build_model(4, activation=activation, depthwise=depthwise, attention=attention)
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck)]
    assert len(blocks) == BLOCKS
    assert all((b.conv2.groups == b.conv2.in_channels) == depthwise for b in blocks)
    assert sum(isinstance(m, CBAM) for m in model.modules()) == (BLOCKS if attention == "cbam" else 0)
    assert any(isinstance(m, nn.GELU) for m in model.modules()) == (activation == "gelu")
    if activation == "gelu":  # only CBAM's own MLP keeps a ReLU
        assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == (BLOCKS if attention == "cbam" else 0)

    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = F.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 3]))
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())
    assert not torch.equal(before["fc.weight"], model.fc.weight) and not torch.equal(
        before["conv1.weight"], model.conv1.weight
    )


def test_depthwise_convs_start_as_torchvisions_kaiming_fan_out_init() -> None:
    from artworks.models.modifications import make_depthwise

    torch.manual_seed(0)
    model = get_backbone("resnet50").create()
    assert "layer4.0.conv2" in make_depthwise(model)
    conv = model.layer4[0].conv2  # 512 channels, one 3x3 filter each
    assert conv.groups == 512 and conv.weight.shape == (512, 1, 3, 3) and conv.bias is None
    # fan_out = 512 x 3 x 3 (fan_in would be 1 x 3 x 3: a 24x larger std)
    assert conv.weight.std().item() == pytest.approx((2 / (512 * 9)) ** 0.5, rel=0.05)


# --- partial ImageNet loading ------------------------------------------------------------------------------


def _modified(num_classes: int, **switches: object) -> tuple[nn.Module, list[str]]:
    """What ``build_model`` does before loading: switches, then a new head."""
    model = get_backbone("resnet50").create()
    changed = apply_modifications(model, **switches)
    get_backbone("resnet50").reset_head(model, num_classes)
    return model, [*changed, "fc"]


def test_depthwise_model_loads_everything_but_the_3x3_convs_and_the_head(resnet50_weights: Path) -> None:
    state = read_state_dict(resnet50_weights)
    model, new = _modified(4, depthwise=True)
    report = load_matching(model, state, "file", new)
    conv2 = {f"layer{i}.{j}.conv2.weight" for i, n in enumerate([3, 4, 6, 3], 1) for j in range(n)}
    assert set(report.fresh) == conv2 | {"fc.weight", "fc.bias"}
    assert set(report.skipped) == conv2 | {"fc.weight", "fc.bias"}
    assert set(report.loaded) == set(state) - set(report.skipped)
    for key in report.loaded:
        torch.testing.assert_close(model.state_dict()[key], state[key])
    assert model.layer2[0].conv2.weight.shape != state["layer2.0.conv2.weight"].shape


def test_the_seed_modified_resnet_starts_its_depthwise_convs_cbam_and_head_fresh(
    resnet50_weights: Path,
) -> None:
    """GELU + depthwise + CBAM (cbam_resnet50): the new modules of both switches, nothing else, are fresh."""
    state = read_state_dict(resnet50_weights)
    model, new = _modified(4, activation="gelu", depthwise=True, attention="cbam")
    blocks = [f"layer{i}.{j}" for i, n in enumerate([3, 4, 6, 3], 1) for j in range(n)]
    assert sorted(new) == sorted([*(f"{b}.conv2" for b in blocks), *(f"{b}.cbam" for b in blocks), "fc"])
    report = load_matching(model, state, "file", new)
    assert set(report.skipped) == {f"{b}.conv2.weight" for b in blocks} | {"fc.weight", "fc.bias"}
    assert {k.split(".cbam.")[0] for k in report.fresh if ".cbam." in k} == set(blocks)


def test_cbam_model_loads_every_imagenet_tensor_but_the_head(resnet50_weights: Path) -> None:
    state = read_state_dict(resnet50_weights)
    model, new = _modified(4, activation="gelu", attention="cbam")
    report = load_matching(model, state, "file", new)
    assert set(report.skipped) == {"fc.weight", "fc.bias"}
    assert set(report.loaded) == set(state) - {"fc.weight", "fc.bias"}
    cbam_keys = [k for k in report.fresh if ".cbam." in k]
    assert set(report.fresh) == {*cbam_keys, "fc.weight", "fc.bias"}
    assert len(cbam_keys) == BLOCKS * 10  # 2 Linear (w, b), conv w, BatchNorm (w, b, mean, var, count)
    torch.testing.assert_close(model.layer3[2].bn3.weight, state["layer3.2.bn3.weight"])


def test_build_model_prints_what_it_loaded(resnet50_weights: Path, capsys: pytest.CaptureFixture) -> None:
    model = build_model(4, weights="IMAGENET1K_V2", weights_path=str(resnet50_weights), depthwise=True)
    out = capsys.readouterr().out
    assert f"from {resnet50_weights}" in out
    assert "start from initialisation: layer*.*.conv2 (16), fc (2)" in out
    torch.testing.assert_close(
        model.layer1[0].conv1.weight, read_state_dict(resnet50_weights)["layer1.0.conv1.weight"]
    )


def test_the_load_summary_counts_and_groups_what_was_not_loaded() -> None:
    from artworks.models.weights import LoadReport

    fresh = [
        "layer1.0.cbam.channel.mlp.1.weight",
        "layer3.5.cbam.spatial.conv.weight",
        "layer1.0.conv2.weight",
        "layer2.1.conv2.weight",
        "fc.weight",
        "fc.bias",
    ]
    report = LoadReport("imagenet.pth", ["conv1.weight", "bn1.weight", "bn1.bias"], fresh, ["fc.weight"])
    assert report.summary() == (
        "Loaded 3 of 9 tensors of the network from imagenet.pth.\n"
        "  not loaded, start from initialisation: layer*.*.cbam.* (2), layer*.*.conv2 (2), fc (2)\n"
        "  in the file but not used: fc (1)"
    )
    assert LoadReport("f", ["a"], [], []).summary() == "Loaded 1 of 1 tensors of the network from f."


def test_weights_load_from_safetensors_and_tensors_the_network_lacks_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    model = build_model(3, arch="resnet18")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "net.safetensors")
    back = read_state_dict(tmp_path / "net.safetensors")
    assert back.keys() == state.keys() and all(torch.equal(back[k], state[k]) for k in state)
    report = load_matching(build_model(3, arch="resnet18"), back, "file", [])
    assert report.skipped == [] and report.fresh == []

    extra = {**state, **{f"extra{i}.weight": torch.ones(1) for i in range(5)}}  # another network's file
    with pytest.raises(ArtworksError, match=r"do not fit this network: 5 entries") as info:
        load_matching(build_model(3, arch="resnet18"), extra, "file", ["fc"])
    assert "(e.g. ['extra0.weight', 'extra1.weight', 'extra2.weight'])" in str(info.value)
    reshaped = {**state, "layer1.0.conv1.weight": torch.ones(64, 64, 1, 1)}
    with pytest.raises(
        ArtworksError, match="do not fit this network: 2 entries"
    ):  # in the model and the file
        load_matching(build_model(3, arch="resnet18"), reshaped, "file", ["fc"])


def test_weights_load_from_an_artworks_checkpoint_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    import argparse

    net = {"conv1.weight": torch.ones(2), "fc.bias": torch.zeros(3)}
    checkpoint = {
        "state_dict": {**{f"net.{k}": v for k, v in net.items()}, "criterion.weight": torch.ones(3)},
        "epoch": 4,
    }
    torch.save(checkpoint, tmp_path / "last.ckpt")
    back = read_state_dict(tmp_path / "last.ckpt")  # the network's tensors, under the network's names
    assert back.keys() == net.keys() and all(torch.equal(back[k], net[k]) for k in net)
    torch.save({"w": torch.ones(1), "args": argparse.Namespace(lr=1)}, tmp_path / "pickle.pth")
    (tmp_path / "text.pth").write_text("not a state dict")
    for name in ("pickle.pth", "text.pth"):  # arbitrary pickled objects are not loaded (weights_only)
        with pytest.raises(
            ArtworksError, match=rf"^{tmp_path / name} is not a readable PyTorch state dict \("
        ):
            read_state_dict(tmp_path / name)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(build_model(1000, arch="resnet18").state_dict(), path)
    with pytest.raises(ArtworksError, match="do not fit"):
        build_model(4, weights="IMAGENET1K_V1", weights_path=str(path), attention="cbam")


def test_torchvision_weights_come_from_the_cache_without_progress_bar_or_hash_check(monkeypatch, tmp_path):
    from torchvision.models._api import WeightsEnum

    from artworks.models import weights

    calls = []

    def fake_get_state_dict(self, **kwargs):
        calls.append((self, kwargs))
        return {"w": torch.ones(1)}

    monkeypatch.setattr(WeightsEnum, "get_state_dict", fake_get_state_dict)
    assert weights.fetch_state_dict("resnet18", "IMAGENET1K_V1") == {"w": torch.ones(1)}
    assert calls[0][0].name == "IMAGENET1K_V1" and calls[0][1] == {"progress": False, "check_hash": False}
    with pytest.raises(
        ArtworksError, match=r"Unknown weights 'NOPE' for resnet18; torchvision has \['IMAGENET1K_V1'\]"
    ):
        weights.fetch_state_dict("resnet18", "NOPE")


@pytest.mark.parametrize("error", [URLError("no network"), OSError("disk"), RuntimeError("truncated")])
def test_weights_that_cannot_be_fetched_say_where_to_put_the_file(monkeypatch, tmp_path, error):
    from torchvision.models._api import WeightsEnum

    from artworks.models import weights

    def fail(self, **kwargs):
        raise error

    monkeypatch.setattr(WeightsEnum, "get_state_dict", fail)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert weights.checkpoint_dir() == tmp_path / "hub" / "checkpoints"
    with pytest.raises(ArtworksError) as info:
        weights.fetch_state_dict("resnet18", "IMAGENET1K_V1")
    message = str(info.value)
    assert (
        f"The IMAGENET1K_V1 weights for resnet18 could not be downloaded ({type(error).__name__}: " in message
    )
    assert f"copy the file resnet18-f37072fd.pth into {tmp_path / 'hub' / 'checkpoints'}" in message
    assert "model.net.weights_path=/path/to/resnet18-f37072fd.pth" in message


# --- freezing and per-stage learning rates -----------------------------------------------------------------

STAGE_PREFIXES = {
    "stem": ("conv1.", "bn1."),
    **{f"layer{i}": (f"layer{i}.",) for i in range(1, 5)},
    "fc": ("fc.",),
}


def _stage(key: str) -> str:
    return next(s for s, prefixes in STAGE_PREFIXES.items() if key.startswith(prefixes))


@pytest.mark.parametrize(
    "frozen", [["stem", "layer1", "layer2", "layer3"], ["layer2", "stem"], ["layer4", "fc"]]
)
def test_freeze_leaves_exactly_the_named_stages_unchanged(frozen: list[str]) -> None:
    torch.manual_seed(0)
    model = build_model(4, freeze=frozen).train()
    norms = {n: m for n, m in model.named_modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))}
    assert all(isinstance(m, FrozenBatchNorm2d) == (_stage(f"{n}.") in frozen) for n, m in norms.items())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    F.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step()
    after = model.state_dict()
    for stage in STAGE_PREFIXES:
        keys = [k for k in after if _stage(k) == stage and not k.endswith("num_batches_tracked")]
        stats = [k for k in keys if k.endswith(("running_mean", "running_var"))]
        unchanged = [torch.equal(before[k], after[k]) for k in keys]
        if stage in frozen:
            assert all(unchanged), stage  # parameters and BatchNorm statistics
        else:
            assert not any(torch.equal(before[k], after[k]) for k in stats), stage
            assert not all(unchanged), stage
    counts = parameter_counts(model)
    assert counts["total"] == 25_557_032 - 2049 * 996  # the same network with a 4-class head
    assert counts["trainable"] == sum(p.numel() for p in trainable)


def test_a_frozen_batchnorm_computes_what_the_batchnorm_did_in_eval_mode() -> None:
    from artworks.models.stages import _frozen_batchnorm

    torch.manual_seed(0)
    for bn in (nn.BatchNorm2d(4, eps=0.1), nn.SyncBatchNorm(4, eps=0.1)):
        with torch.no_grad():
            bn.weight.normal_()
            bn.bias.normal_()
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.01, 0.1)  # small: the eps matters
        frozen = _frozen_batchnorm(bn)
        assert isinstance(frozen, FrozenBatchNorm2d)
        x = torch.randn(2, 4, 5, 5)
        torch.testing.assert_close(frozen(x), bn.eval()(x) if type(bn) is nn.BatchNorm2d else _bn_eval(bn, x))


def _bn_eval(bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def test_timm_batchnorm_act_layers_freeze_too() -> None:
    pytest.importorskip("timm")
    model = build_model(3, arch="timm/test_efficientnet", freeze=["conv_stem", "bn1"])
    assert type(model.bn1).__name__ == "FrozenBatchNormAct2d"
    assert not any(p.requires_grad for p in model.conv_stem.parameters())
    assert any(p.requires_grad for p in model.classifier.parameters())


def test_freeze_takes_module_paths_and_rejects_unknown_names_and_freezing_everything() -> None:
    model = build_model(4, freeze=["layer4.2"])
    assert not any(p.requires_grad for p in model.layer4[2].parameters())
    assert all(p.requires_grad for p in model.layer4[1].parameters())
    with pytest.raises(ArtworksError, match=r"^model\.net\.freeze names 'layer5', which is not a stage"):
        build_model(4, freeze=["layer5"])  # the option the user set is named
    with pytest.raises(ArtworksError, match="nothing to train"):
        build_model(4, arch="resnet18", freeze=["stem", "layer1", "layer2", "layer3", "layer4", "fc"])


def test_stage_lr_multipliers_make_one_group_per_named_stage() -> None:
    model = build_model(4, arch="resnet18", freeze=["stem", "layer1"])
    groups = stage_param_groups(model, "resnet18", 1e-3, {"layer4": 1.0, "fc": 10.0, "layer2": 0.1})
    by_name = {g["name"]: g for g in groups}
    assert {n: g["lr"] for n, g in by_name.items()} == pytest.approx(
        {"rest": 1e-3, "layer2": 1e-4, "layer4": 1e-3, "fc": 1e-2}
    )
    assert by_name["rest"]["params"] == list(model.layer3.parameters())  # frozen stages are in no group
    assert sum(len(g["params"]) for g in groups) == sum(p.requires_grad for p in model.parameters())
    with pytest.raises(ArtworksError, match="overlap"):
        stage_param_groups(model, "resnet18", 1e-3, {"layer4": 1.0, "layer4.1": 2.0})
    with pytest.raises(ArtworksError, match=r"^model\.stage_lr_mult names 'layer9', which is not a stage"):
        stage_param_groups(model, "resnet18", 1e-3, {"layer9": 2.0})  # the option the user set is named


def test_the_lightning_module_uses_stage_lr_multipliers(make_cfg) -> None:
    from hydra.utils import instantiate

    from artworks.training.task import build_module

    cfg = make_cfg("model=freeze13_resnet50", "model.stage_lr_mult={layer4: 0.5, fc: 10.0}")
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    optimizer = build_module(cfg, datamodule).configure_optimizers()["optimizer"]
    assert sorted(g["lr"] for g in optimizer.param_groups) == pytest.approx([1.5e-4, 3e-3])


# --- timm ---------------------------------------------------------------------------------------------------


def test_timm_models_build_freeze_and_load_by_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    timm = pytest.importorskip("timm")
    path = tmp_path / "timm_resnet18.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    model = build_model(
        5, arch="timm/resnet18", weights="DEFAULT", weights_path=str(path), freeze=["conv1", "layer1"]
    )
    assert "start from initialisation: fc (2)" in capsys.readouterr().out
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert "head" in get_backbone("timm/convnext_atto").stages(build_model(3, arch="timm/convnext_atto"))
    with pytest.raises(ArtworksError, match="no model"):
        build_model(3, arch="timm/no_such_net")
