#include "shape_functions.h"

namespace fwp {

using tensorflow::Status;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

namespace {

// Checks the inputs; returns [B, T, H, Dk] in *qk and Dv in *dv.
Status CheckInputs(InferenceContext* c, bool has_beta, ShapeHandle* qk, DimensionHandle* dv) {
  ShapeHandle q, k, v, state, normalizer;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &q));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &k));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 4, &v));
  TF_RETURN_IF_ERROR(c->Merge(q, k, qk));
  ShapeHandle bth, v_bth;  // [B, T, H]
  TF_RETURN_IF_ERROR(c->Subshape(*qk, 0, 3, &bth));
  TF_RETURN_IF_ERROR(c->Subshape(v, 0, 3, &v_bth));
  TF_RETURN_IF_ERROR(c->Merge(bth, v_bth, &bth));
  int next = 3;
  if (has_beta) {
    ShapeHandle beta;
    TF_RETURN_IF_ERROR(c->WithRank(c->input(next++), 3, &beta));
    TF_RETURN_IF_ERROR(c->Merge(bth, beta, &bth));
  }
  *dv = c->Dim(v, 3);
  ShapeHandle expected_state = c->MakeShape({c->Dim(bth, 0), c->Dim(bth, 2), c->Dim(*qk, 3), *dv});
  TF_RETURN_IF_ERROR(c->WithRank(c->input(next), 4, &state));
  TF_RETURN_IF_ERROR(c->Merge(state, expected_state, &state));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(next + 1), 3, &normalizer));
  ShapeHandle state_bhk;
  TF_RETURN_IF_ERROR(c->Subshape(state, 0, 3, &state_bhk));
  TF_RETURN_IF_ERROR(c->Merge(normalizer, state_bhk, &normalizer));
  // Refine [B, T, H, Dk] with what the other inputs know.
  TF_RETURN_IF_ERROR(c->ReplaceDim(*qk, 0, c->Dim(bth, 0), qk));
  TF_RETURN_IF_ERROR(c->ReplaceDim(*qk, 1, c->Dim(bth, 1), qk));
  TF_RETURN_IF_ERROR(c->ReplaceDim(*qk, 2, c->Dim(bth, 2), qk));
  TF_RETURN_IF_ERROR(c->ReplaceDim(*qk, 3, c->Dim(state, 2), qk));
  *dv = c->Dim(state, 3);
  return Status();
}

ShapeHandle OutputShape(InferenceContext* c, ShapeHandle qk, DimensionHandle dv) {
  return c->MakeShape({c->Dim(qk, 0), c->Dim(qk, 1), c->Dim(qk, 2), dv});
}

ShapeHandle StateShape(InferenceContext* c, ShapeHandle qk, DimensionHandle dv) {
  return c->MakeShape({c->Dim(qk, 0), c->Dim(qk, 2), c->Dim(qk, 3), dv});
}

ShapeHandle NormalizerShape(InferenceContext* c, ShapeHandle qk) {
  return c->MakeShape({c->Dim(qk, 0), c->Dim(qk, 2), c->Dim(qk, 3)});
}

}  // namespace

Status ForwardShape(InferenceContext* c, bool has_beta) {
  ShapeHandle qk;
  DimensionHandle dv;
  TF_RETURN_IF_ERROR(CheckInputs(c, has_beta, &qk, &dv));
  c->set_output(0, OutputShape(c, qk, dv));
  c->set_output(1, StateShape(c, qk, dv));
  c->set_output(2, NormalizerShape(c, qk));
  return Status();
}

Status GradientShape(InferenceContext* c, bool has_beta) {
  ShapeHandle qk;
  DimensionHandle dv;
  TF_RETURN_IF_ERROR(CheckInputs(c, has_beta, &qk, &dv));
  const int first_grad = has_beta ? 6 : 5;
  ShapeHandle unused;
  TF_RETURN_IF_ERROR(c->Merge(c->input(first_grad), OutputShape(c, qk, dv), &unused));
  TF_RETURN_IF_ERROR(c->Merge(c->input(first_grad + 1), StateShape(c, qk, dv), &unused));
  TF_RETURN_IF_ERROR(c->Merge(c->input(first_grad + 2), NormalizerShape(c, qk), &unused));
  int out = 0;
  c->set_output(out++, qk);
  c->set_output(out++, qk);
  c->set_output(out++, OutputShape(c, qk, dv));
  if (has_beta) {
    c->set_output(out++, c->MakeShape({c->Dim(qk, 0), c->Dim(qk, 1), c->Dim(qk, 2)}));
  }
  c->set_output(out++, StateShape(c, qk, dv));
  c->set_output(out++, NormalizerShape(c, qk));
  return Status();
}

}  // namespace fwp
