"""The NAS-Bench-201 table and the exact mapping between nb201 token strings and its arch strings."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from nascli.arch import architecture, decode_tokens
from nascli.benchmarks import get_benchmark, load_table, shipped_table_path
from nascli.benchmarks.nb201 import architecture_of, arch_string, check_space, tokens_string
from nascli.children import build_child
from nascli.data.base import ImageTask
from nascli.errors import BenchmarkError
from nascli.space import load_space, parse_space
from nascli.space.compiler import compile_space

from conftest import SHARED_DATA

SHIPPED_SHA256 = "b1006ea31789ccae38ddd9ed8c03ef83d8fd3c0f995059fb79e79bc5541193e6"


@pytest.fixture(scope="module")
def table():
    return get_benchmark("nb201").table()


@pytest.fixture(scope="module")
def nb201():
    return compile_space(load_space("nb201"))


def test_the_shipped_table_is_the_benchmark_byte_for_byte():
    text = gzip.decompress(shipped_table_path().read_bytes())
    assert hashlib.sha256(text).hexdigest() == SHIPPED_SHA256
    shared = SHARED_DATA / "nb201" / "nb201.csv"
    if shared.is_file():
        assert shared.read_bytes() == text


def test_datasets_fidelities_and_seeds_come_from_the_header(table):
    assert len(table) == 15625
    assert table.datasets == ("cifar10", "cifar100")
    assert table.fidelities("cifar10") == (12, 200)
    assert table.seeds("cifar10", 200) == (777, 888, 999)
    assert table.seeds("cifar100", 200) == ()


@pytest.mark.parametrize("index, tokens, valid_200, test_200", [
    (6111, "nb201: conv_3x3 / conv_3x3 / conv_3x3 / identity / conv_3x3 / conv_1x1", 91.606667, 94.373333),
    (1651, "nb201: none / none / none / none / none / none", 9.712, 10.0),
    (1835, "nb201: identity / identity / identity / identity / identity / identity", 39.769333, 54.296667),
])
def test_named_cells_map_both_ways(table, nb201, index, tokens, valid_200, test_200):
    arch = table.arch_at(index)
    assert tokens_string(nb201, arch) == tokens
    assert arch_string(architecture(nb201, *decode_tokens(nb201, tokens))) == arch
    assert table.index(arch) == index
    assert table.valid_accuracy(arch, "cifar10", 200) == pytest.approx(valid_200)
    assert table.test_accuracy(arch, "cifar10", 200) == pytest.approx(test_200)


def test_6111_is_the_optimum_by_validation_and_by_test(table):
    best_valid = max(table.archs(), key=lambda a: table.valid_accuracy(a, "cifar10", 200))
    best_test = max(table.archs(), key=lambda a: table.test_accuracy(a, "cifar10", 200))
    assert table.index(best_valid) == table.index(best_test) == 6111


def test_the_mapping_is_a_bijection_over_all_15625_cells(table, nb201):
    tokens = {tokens_string(nb201, arch) for arch in table.archs()}
    assert len(tokens) == 15625
    for text in list(tokens)[::97]:
        assert tokens_string(nb201, arch_string(architecture(nb201, *decode_tokens(nb201, text)))) == text


def test_edge_positions_follow_the_benchmark(nb201):
    # only the edge 2 -> 3 differs from all-none: the benchmark writes it last, as op~2 of node 3
    tokens = "nb201: none / none / none / none / none / conv_3x3"
    assert arch_string(architecture(nb201, *decode_tokens(nb201, tokens))) == \
        "|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
    tokens = "nb201: avg_pool_3x3 / none / none / none / none / none"
    assert arch_string(architecture(nb201, *decode_tokens(nb201, tokens))) == \
        "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.mark.parametrize("index", [6111, 1651, 0, 1])
def test_our_child_has_the_tables_parameter_count(table, nb201, index):
    arch = table.arch_at(index)
    model = build_child(architecture_of(nb201, arch), ImageTask(channels=3, height=32, width=32, classes=10))
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(
        table.observe(arch, "cifar10", 12).params_m, abs=1e-6)


def test_a_12_epoch_query_costs_12_200ths_of_the_training_time(table):
    arch = table.arch_at(6111)
    full = table.observe(arch, "cifar10", 200).seconds
    assert table.observe(arch, "cifar10", 12).seconds == pytest.approx(full * 12 / 200)
    assert table.observe(arch, "cifar10", 200, seed=888).valid == pytest.approx(91.72)


def _space(text: str):
    return compile_space(parse_space(text, "x.space"))


@pytest.mark.parametrize("text, why", [
    ("space a { dense cell nodes 4 stages 3 repeat 5 width 32 { op: {none, identity, conv_1x1, conv_3x3, avg_pool_3x3} } }",
     "width 32"),
    ("space a { dense cell nodes 4 stages 3 repeat 5 width 16 { op: {none, identity, conv_3x3, avg_pool_3x3} } }",
     "its ops are"),
    ("space a { hyper { lr: {0.1, 0.05} }\n dense cell nodes 4 stages 3 repeat 5 width 16 "
     "{ op: {none, identity, conv_1x1, conv_3x3, avg_pool_3x3} } }", "one dense cell and nothing else"),
])
def test_a_space_that_is_not_the_tables_is_refused(text, why):
    with pytest.raises(BenchmarkError, match=why):
        check_space(_space(text))


def test_the_conv_space_is_refused():
    with pytest.raises(BenchmarkError, match="not NAS-Bench-201's space"):
        check_space(compile_space(load_space("conv")))


def test_a_table_with_other_datasets_reads_them_from_its_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("index,arch,imagenet16_valid_12,imagenet16_test_200,imagenet16_train_seconds_200\n"
                    "7,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,3.5,4.25,100\n")
    t = load_table(path)
    assert t.datasets == ("imagenet16",)
    arch = t.arch_at(7)
    assert t.observe(arch, "imagenet16", 12).seconds == pytest.approx(6.0)
    assert t.test_accuracy(arch, "imagenet16") == 4.25
    with pytest.raises(BenchmarkError, match="no dataset 'cifar10'.*imagenet16"):
        t.observe(arch, "cifar10", 12)
    with pytest.raises(BenchmarkError, match="no 200-epoch results"):
        t.observe(arch, "imagenet16", 200)


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n", "needs the columns 'index' and 'arch'"),
    ("index,arch,c_valid_12,c_train_seconds_200\n0,x,1.0\n", r"3 fields where the header has 4"),
    ("index,arch,c_valid_12,c_train_seconds_200\n0,x,secret,1\n", "column 'c_valid_12' holds no number"),
    ("index,arch,c_valid_12,c_train_seconds_200\n0,x,inf,1\n", "not finite"),
    ("index,arch,c_valid_12\n0,x,1\n", "no dataset in the table's header"),
    ("index,arch,c_valid_12,c_train_seconds_200\n0,\"" + "x" * 70000 + "\",1,1\n", "malformed CSV"),
])
def test_a_broken_table_is_one_error_naming_the_line_not_the_content(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(BenchmarkError, match=message) as err:
        load_table(path)
    assert "secret" not in str(err.value)


def test_a_missing_or_broken_gzip_table_is_refused(tmp_path):
    with pytest.raises(BenchmarkError, match="cannot read"):
        load_table(tmp_path / "absent.csv")
    broken = tmp_path / "t.csv.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(BenchmarkError, match="cannot read"):
        load_table(broken)
