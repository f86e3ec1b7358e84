"""Reading SAM templates: CloudFormation short-form tags, dates kept as strings, clear syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.template.loader import TemplateSyntaxError, load_template, loads_template


def test_short_form_tags_become_long_forms() -> None:
    doc = loads_template("""
AWSTemplateFormatVersion: 2010-09-09
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      A: !Ref Bucket
      B: !GetAtt Fn.Arn
      C: !GetAtt [Fn, Arn]
      D: !Sub "${AWS::StackName}-x"
      E: !Sub ["${X}", {X: !Ref Y}]
      F: !Join [",", [a, !Ref B]]
      G: !If [IsProd, !Select [0, !Split [",", "a,b"]], !Ref AWS::NoValue]
      H: !FindInMap [M, K, V]
      I: !Equals [!Ref P, prod]
      J: !Not [!Condition IsProd]
      K: !Base64 hello
""")
    props = doc["Resources"]["Fn"]["Properties"]
    assert doc["AWSTemplateFormatVersion"] == "2010-09-09"
    assert props["A"] == {"Ref": "Bucket"}
    assert props["B"] == props["C"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert props["D"] == {"Fn::Sub": "${AWS::StackName}-x"}
    assert props["E"] == {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]}
    assert props["F"] == {"Fn::Join": [",", ["a", {"Ref": "B"}]]}
    assert props["G"] == {
        "Fn::If": ["IsProd", {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}, {"Ref": "AWS::NoValue"}]
    }
    assert props["H"] == {"Fn::FindInMap": ["M", "K", "V"]}
    assert props["I"] == {"Fn::Equals": [{"Ref": "P"}, "prod"]}
    assert props["J"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert props["K"] == {"Fn::Base64": "hello"}


def test_json_templates_load_too() -> None:
    assert (
        loads_template('{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}')["Resources"]["B"]["Type"]
        == "AWS::S3::Bucket"
    )


def test_syntax_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "template.yaml"
    bad.write_text("Resources:\n  X: {Type: [unclosed\n")
    with pytest.raises(TemplateSyntaxError, match=r"template\.yaml is not valid YAML"):
        load_template(bad)
    with pytest.raises(TemplateSyntaxError, match="cannot read template"):
        load_template(tmp_path / "missing.yaml")
    with pytest.raises(TemplateSyntaxError, match="must be a mapping"):
        loads_template("- just a list")
