//! `aws:cloudwatch/Dashboard` (Terraform `aws_cloudwatch_dashboard`). The
//! body is built from typed widgets (metric graphs, text, alarm status) whose
//! serde form is CloudWatch's dashboard JSON, so the body read back parses
//! into the same widgets and the diff compares parsed JSON, never text. A
//! widget value may be another resource's output (a load balancer's ARN
//! suffix): the body is known, and sent, only once they all are.
//!
//! Dashboards carry no tags. The name is the identity and forces a
//! replacement; PutDashboard creates and changes the body in place.

use async_trait::async_trait;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::{check_period, check_query_id, check_stat, CloudWatch};
use crate::model::{Input, ModelError, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::in_range;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Conv, Schema, Tf};
use crate::provider::ProviderError;
use crate::value;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    /// 1 to 255 letters, digits, `-` and `_`.
    pub dashboard_name: String,
    /// In order; CloudWatch lays out those without a position left to right.
    pub widgets: Vec<Widget>,
}

impl Dashboard {
    pub fn new(dashboard_name: &str, widgets: Vec<Widget>) -> Self {
        Dashboard {
            dashboard_name: dashboard_name.into(),
            widgets,
        }
    }
}

impl ResourceArgs for Dashboard {
    const TYPE: &'static str = "aws:cloudwatch/Dashboard";
}

impl Resource<Dashboard> {
    pub fn dashboard_arn(&self) -> Output<String> {
        self.output("dashboard_arn")
    }
    pub fn dashboard_name(&self) -> Output<String> {
        self.output("dashboard_name")
    }
}

/// One widget: a typed one, or CloudWatch's JSON as it is (a kind not
/// modelled here, or a live widget that no typed form reproduces exactly).
#[derive(Debug, Clone, PartialEq)]
pub enum Widget {
    Typed(PlacedWidget),
    Json(Value),
}

/// A typed widget and its place on the 24-column grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedWidget {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<i32>,
    pub width: i32,
    pub height: i32,
    pub properties: WidgetBody,
}

/// What a widget shows; its CloudWatch `type` is the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WidgetBody {
    Metric(MetricWidget),
    Text(TextWidget),
    Alarm(AlarmWidget),
}

impl WidgetBody {
    fn kind(&self) -> &'static str {
        match self {
            WidgetBody::Metric(_) => "metric",
            WidgetBody::Text(_) => "text",
            WidgetBody::Alarm(_) => "alarm",
        }
    }
}

/// A graph (or single value) of metrics and metric-math expressions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricWidget {
    pub metrics: Vec<MetricLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// CloudWatch requires it (`eu-west-1`).
    pub region: String,
    /// The statistic of lines that set none (`Average`, `Sum`, `p99`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    /// Seconds per datapoint of lines that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    /// `timeSeries` (default), `singleValue`, `gauge`, `bar`, `pie`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacked: Option<bool>,
}

/// Markdown text.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextWidget {
    pub markdown: Input<String>,
}

/// The states of alarms, by ARN.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmWidget {
    pub alarms: Vec<Input<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// The rendering options of one line (CloudWatch's trailing `{...}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LineOptions {
    /// For expressions to refer to this line (lowercase first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    /// `false` hides a line that only feeds an expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    /// `left` or `right`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_axis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

impl LineOptions {
    fn is_empty(&self) -> bool {
        *self == LineOptions::default()
    }
}

/// One line of a metric widget: CloudWatch writes a metric as
/// `[namespace, name, dim, value, ..., {options}]` and an expression as
/// `[{"expression": ..., options}]`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricLine {
    Metric {
        namespace: String,
        metric_name: String,
        /// Name and value pairs, in order.
        dimensions: Vec<(String, Input<String>)>,
        options: LineOptions,
    },
    Expression {
        expression: String,
        options: LineOptions,
    },
}

impl MetricLine {
    pub fn metric(namespace: &str, metric_name: &str) -> Self {
        MetricLine::Metric {
            namespace: namespace.into(),
            metric_name: metric_name.into(),
            dimensions: Vec::new(),
            options: LineOptions::default(),
        }
    }

    pub fn expression(expression: &str, label: &str, id: &str) -> Self {
        MetricLine::Expression {
            expression: expression.into(),
            options: LineOptions {
                id: Some(id.into()),
                label: Some(label.into()),
                ..Default::default()
            },
        }
    }

    /// Adds a dimension (metrics only).
    pub fn dimension(mut self, name: &str, value: impl Into<Input<String>>) -> Self {
        if let MetricLine::Metric { dimensions, .. } = &mut self {
            dimensions.push((name.into(), value.into()));
        }
        self
    }

    /// Changes the line's options.
    pub fn with(mut self, f: impl FnOnce(&mut LineOptions)) -> Self {
        match &mut self {
            MetricLine::Metric { options, .. } | MetricLine::Expression { options, .. } => {
                f(options)
            }
        }
        self
    }

    fn options(&self) -> &LineOptions {
        match self {
            MetricLine::Metric { options, .. } | MetricLine::Expression { options, .. } => options,
        }
    }
}

impl Serialize for MetricLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let opts = |o: &LineOptions| serde_json::to_value(o).map_err(serde::ser::Error::custom);
        let v = match self {
            MetricLine::Metric {
                namespace,
                metric_name,
                dimensions,
                options,
            } => {
                let mut a = vec![json!(namespace), json!(metric_name)];
                for (k, v) in dimensions {
                    a.push(json!(k));
                    a.push(serde_json::to_value(v).map_err(serde::ser::Error::custom)?);
                }
                if !options.is_empty() {
                    a.push(opts(options)?);
                }
                Value::Array(a)
            }
            MetricLine::Expression {
                expression,
                options,
            } => {
                let mut o = match opts(options)? {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                o.insert("expression".into(), json!(expression));
                json!([o])
            }
        };
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for MetricLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let a = Vec::<Value>::deserialize(d)?;
        let opts = |v: Value| LineOptions::deserialize(v).map_err(D::Error::custom);
        if let [Value::Object(o)] = a.as_slice() {
            let mut o = o.clone();
            let Some(Value::String(expression)) = o.remove("expression") else {
                return Err(D::Error::custom(
                    "a one-element line is an expression object",
                ));
            };
            return Ok(MetricLine::Expression {
                expression,
                options: opts(Value::Object(o))?,
            });
        }
        let (head, options) = match a.len() % 2 {
            // [ns, name, k, v, ..., {options}]
            1 => (&a[..a.len() - 1], opts(a[a.len() - 1].clone())?),
            _ => (&a[..], LineOptions::default()),
        };
        let text = |v: &Value| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| D::Error::custom(format!("expected a string, got {v}")))
        };
        if head.len() < 2 {
            return Err(D::Error::custom(
                "a metric line starts with namespace and name",
            ));
        }
        let mut dimensions = Vec::new();
        for pair in head[2..].chunks(2) {
            let value = Input::<String>::deserialize(pair[1].clone()).map_err(D::Error::custom)?;
            dimensions.push((text(&pair[0])?, value));
        }
        Ok(MetricLine::Metric {
            namespace: text(&head[0])?,
            metric_name: text(&head[1])?,
            dimensions,
            options,
        })
    }
}

impl Widget {
    fn place(x: i32, y: i32, width: i32, height: i32, body: WidgetBody) -> Self {
        Widget::Typed(PlacedWidget {
            kind: body.kind().into(),
            x: Some(x),
            y: Some(y),
            width,
            height,
            properties: body,
        })
    }

    /// A metric graph at (`x`, `y`), `width` of 24 columns by `height` rows.
    pub fn metric(x: i32, y: i32, width: i32, height: i32, m: MetricWidget) -> Self {
        Self::place(x, y, width, height, WidgetBody::Metric(m))
    }

    pub fn text(
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        markdown: impl Into<Input<String>>,
    ) -> Self {
        Self::place(
            x,
            y,
            width,
            height,
            WidgetBody::Text(TextWidget {
                markdown: markdown.into(),
            }),
        )
    }

    pub fn alarms(
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        title: &str,
        alarms: Vec<Input<String>>,
    ) -> Self {
        Self::place(
            x,
            y,
            width,
            height,
            WidgetBody::Alarm(AlarmWidget {
                alarms,
                title: Some(title.into()),
            }),
        )
    }
}

impl MetricWidget {
    pub fn new(title: &str, region: &str, metrics: Vec<MetricLine>) -> Self {
        MetricWidget {
            metrics,
            title: Some(title.into()),
            region: region.into(),
            ..Default::default()
        }
    }
}

impl Serialize for Widget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Widget::Typed(w) => w.serialize(s),
            Widget::Json(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Widget {
    /// Typed when a typed widget reproduces the JSON exactly, else the JSON.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if let Ok(w) = PlacedWidget::deserialize(v.clone()) {
            if w.kind == w.properties.kind() && serde_json::to_value(&w).ok().as_ref() == Some(&v) {
                return Ok(Widget::Typed(w));
            }
        }
        Ok(Widget::Json(v))
    }
}

/// The dashboard body from the widgets (as the stack holds them): what
/// `put` sends and what Terraform's `dashboard_body` takes (`jsonencode`).
fn body_json(widgets: &Value) -> Value {
    json!({ "widgets": widgets })
}

fn name_ok(s: &str) -> bool {
    (1..=255).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Dashboard {
    /// The dashboard JSON, once every value in it is known.
    fn body(&self) -> Result<Value, ProviderError> {
        let body = body_json(&serde_json::to_value(&self.widgets).expect("widgets serialise"));
        let mut pending = false;
        let mut secret = false;
        value::walk(&body, &mut |x| {
            pending |=
                value::is_unknown(x) || value::as_ref(x).is_some() || value::as_concat(x).is_some();
            secret |= value::as_secret(x).is_some() || value::as_sealed(x).is_some();
        });
        if secret {
            return Err(ProviderError::invalid(
                "widgets",
                value::SENSITIVE_TEXT,
                "a secret has no place in a dashboard body (anyone who can read dashboards sees it)",
            ));
        }
        if pending {
            return Err(ModelError::NotKnown("widgets".into()).into());
        }
        Ok(body)
    }

    fn check_widget(i: usize, w: &Widget) -> Result<(), ProviderError> {
        let f = |x: &str| format!("widgets[{i}].{x}");
        let w = match w {
            Widget::Typed(w) => w,
            Widget::Json(v) => {
                if v.get("type").and_then(Value::as_str).is_none() {
                    return Err(ProviderError::invalid(
                        &format!("widgets[{i}]"),
                        v,
                        "a widget object with a \"type\"",
                    ));
                }
                return Ok(());
            }
        };
        if w.kind != w.properties.kind() {
            return Err(ProviderError::invalid(
                &f("type"),
                format!("{:?}", w.kind),
                format!(
                    "the properties are those of a {:?} widget",
                    w.properties.kind()
                ),
            ));
        }
        in_range(&f("width"), w.width, 1..=24)?;
        in_range(&f("height"), w.height, 1..=1000)?;
        if let Some(x) = w.x {
            in_range(&f("x"), x, 0..=24 - w.width)?;
        }
        if let Some(y) = w.y {
            in_range(&f("y"), y, 0..=i32::MAX)?;
        }
        match &w.properties {
            WidgetBody::Metric(m) => {
                if m.region.is_empty() {
                    return Err(ProviderError::invalid(
                        &f("properties.region"),
                        "\"\"",
                        "CloudWatch needs the region of a metric widget (e.g. \"eu-west-1\")",
                    ));
                }
                in_range(&f("properties.metrics"), m.metrics.len(), 1..=500)?;
                if let Some(s) = &m.stat {
                    check_stat(&f("properties.stat"), s, false)?;
                }
                if let Some(p) = m.period {
                    check_period(&f("properties.period"), p)?;
                }
                if let Some(v) = &m.view {
                    crate::provider::aws::validate::one_of(
                        &f("properties.view"),
                        v,
                        &["timeSeries", "singleValue", "gauge", "bar", "pie"],
                    )?;
                }
                for (j, l) in m.metrics.iter().enumerate() {
                    let g = |x: &str| f(&format!("properties.metrics[{j}].{x}"));
                    let o = l.options();
                    if let Some(id) = &o.id {
                        check_query_id(&g("id"), id)?;
                    }
                    if let Some(s) = &o.stat {
                        check_stat(&g("stat"), s, false)?;
                    }
                    if let Some(p) = o.period {
                        check_period(&g("period"), p)?;
                    }
                    match l {
                        MetricLine::Metric {
                            namespace,
                            metric_name,
                            ..
                        } => {
                            for (x, v) in [("namespace", namespace), ("metric_name", metric_name)] {
                                if v.is_empty() {
                                    return Err(ProviderError::invalid(&g(x), "\"\"", "required"));
                                }
                            }
                        }
                        MetricLine::Expression { expression, .. } => {
                            if expression.is_empty() {
                                return Err(ProviderError::invalid(
                                    &g("expression"),
                                    "\"\"",
                                    "required",
                                ));
                            }
                        }
                    }
                }
            }
            WidgetBody::Text(t) => {
                if t.markdown.known().is_some_and(String::is_empty) {
                    return Err(ProviderError::invalid(
                        &f("properties.markdown"),
                        "\"\"",
                        "some markdown",
                    ));
                }
            }
            WidgetBody::Alarm(a) => {
                in_range(&f("properties.alarms"), a.alarms.len(), 1..=100)?;
                for (j, arn) in a.alarms.iter().enumerate() {
                    if let Some(arn) = arn.known() {
                        check_arn(
                            &f(&format!("properties.alarms[{j}]")),
                            arn,
                            "cloudwatch",
                            "alarm:",
                            "a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)",
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The dashboard's widgets and ARN; `None` when it does not exist.
async fn get(
    cx: &Call<'_, CloudWatch>,
    name: &str,
) -> Result<Option<(Vec<Widget>, String)>, ProviderError> {
    let Some(out) = cx
        .find("GetDashboard", |c| {
            c.get_dashboard().dashboard_name(name).send()
        })
        .await?
    else {
        return Ok(None);
    };
    let body: Value = serde_json::from_str(out.dashboard_body().unwrap_or("{}"))
        .unwrap_or_else(|_| Value::String(out.dashboard_body().unwrap_or_default().into()));
    // A body that is not `{"widgets": [...]}` shows as one JSON widget, so
    // the difference is seen.
    let widgets = match body.get("widgets") {
        Some(w) => {
            Vec::<Widget>::deserialize(w).unwrap_or_else(|_| vec![Widget::Json(body.clone())])
        }
        None => vec![Widget::Json(body)],
    };
    Ok(Some((
        widgets,
        out.dashboard_arn().unwrap_or_default().to_string(),
    )))
}

#[async_trait]
impl AwsResource for Dashboard {
    type Service = CloudWatch;
    const SCHEMA: Schema = Schema {
        force_new: &["dashboard_name"],
        unique_name: &["dashboard_name"],
        terraform: &[Tf {
            resource: "aws_cloudwatch_dashboard",
            args: &[
                ("dashboard_name", "dashboard_name"),
                ("widgets", "dashboard_body"),
            ],
            import_id: "{dashboard_name}",
        }],
        tf_values: &[("widgets", Conv::Json(body_json))],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if !name_ok(&self.dashboard_name) {
            return Err(ProviderError::invalid(
                "dashboard_name",
                format!("{:?}", self.dashboard_name),
                "1 to 255 letters, digits, '-' and '_'",
            ));
        }
        in_range("widgets", self.widgets.len(), 0..=500)?;
        for (i, w) in self.widgets.iter().enumerate() {
            Self::check_widget(i, w)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, CloudWatch>) -> Result<String, ProviderError> {
        // PutDashboard overwrites a dashboard of the same name: carry on
        // only from one whose body is exactly ours (see `find`).
        if get(cx, &self.dashboard_name).await?.is_some() {
            if self.find(cx).await?.is_empty() {
                return Err(cx.fatal(format!(
                    "a CloudWatch dashboard named {:?} already exists with another body",
                    self.dashboard_name
                )));
            }
            return Ok(self.dashboard_name.clone());
        }
        self.put(cx).await?;
        Ok(self.dashboard_name.clone())
    }

    async fn read(
        cx: &Call<'_, CloudWatch>,
        name: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some((widgets, arn)) = get(cx, name).await? else {
            return Ok(None);
        };
        Ok(Some(Live {
            args: Dashboard {
                dashboard_name: name.to_string(),
                widgets,
            },
            outputs: json!({"id": name, "dashboard_name": name, "dashboard_arn": arn}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, CloudWatch>,
        _name: &str,
    ) -> Result<(), ProviderError> {
        if old.widgets != self.widgets {
            self.put(cx).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, CloudWatch>, name: &str) -> Result<(), ProviderError> {
        cx.send("DeleteDashboards", |c| {
            c.delete_dashboards().dashboard_names(name).send()
        })
        .await?;
        Wait::new("CloudWatch dashboard", &["exists"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match get(cx, name).await? {
                    Some(_) => Seen::State("exists".to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, CloudWatch>) -> Result<Vec<String>, ProviderError> {
        // No tags. The engine asks only for a URN whose state records a
        // create in flight; of a dashboard of this name, it takes one whose
        // body is exactly the one that create sent, and leaves any other
        // (someone else's, or ours changed by hand) alone.
        let Some((widgets, _)) = get(cx, &self.dashboard_name).await? else {
            return Ok(Vec::new());
        };
        let Ok(ours) = self.body() else {
            return Ok(Vec::new());
        };
        let live = json!({"widgets": serde_json::to_value(&widgets).expect("widgets serialise")});
        Ok(if live == ours {
            vec![self.dashboard_name.clone()]
        } else {
            Vec::new()
        })
    }
}

impl Dashboard {
    async fn put(&self, cx: &Call<'_, CloudWatch>) -> Result<(), ProviderError> {
        let body = self.body()?.to_string();
        let out = cx
            .send("PutDashboard", |c| {
                c.put_dashboard()
                    .dashboard_name(&self.dashboard_name)
                    .dashboard_body(&body)
                    .send()
            })
            .await?;
        // Errors fail the call; warnings (a widget that may not render) do not.
        for m in out.dashboard_validation_messages() {
            tracing::warn!(
                target: "morket_stack::aws",
                urn = %cx.ctx.urn,
                "dashboard {}: {} ({})",
                self.dashboard_name,
                m.message().unwrap_or_default(),
                m.data_path().unwrap_or_default()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alb_widget(lb: Input<String>) -> Widget {
        Widget::metric(
            0,
            0,
            12,
            6,
            MetricWidget::new(
                "ALB requests and 5xx rate",
                "eu-west-1",
                vec![
                    MetricLine::metric("AWS/ApplicationELB", "RequestCount")
                        .dimension("LoadBalancer", lb.clone())
                        .with(|o| {
                            o.id = Some("requests".into());
                            o.stat = Some("Sum".into());
                        }),
                    MetricLine::metric("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count")
                        .dimension("LoadBalancer", lb)
                        .with(|o| {
                            o.id = Some("errors".into());
                            o.stat = Some("Sum".into());
                            o.visible = Some(false);
                        }),
                    MetricLine::expression("100 * errors / requests", "5xx rate", "rate"),
                ],
            ),
        )
    }

    #[test]
    fn widgets_are_cloudwatch_json_and_parse_back() {
        let d = Dashboard::new(
            "morket",
            vec![
                alb_widget("app/morket/abc".into()),
                Widget::text(12, 0, 12, 2, "# Morket"),
                Widget::alarms(
                    12,
                    2,
                    12,
                    4,
                    "Alarms",
                    vec!["arn:aws:cloudwatch:eu-west-1:1:alarm:cpu".into()],
                ),
            ],
        );
        assert!(d.check().is_ok());
        let body = d.body().unwrap();
        assert_eq!(
            body["widgets"][0]["properties"]["metrics"][0],
            json!(["AWS/ApplicationELB", "RequestCount", "LoadBalancer", "app/morket/abc",
                   {"id": "requests", "stat": "Sum"}])
        );
        assert_eq!(
            body["widgets"][0]["properties"]["metrics"][2],
            json!([{"expression": "100 * errors / requests", "label": "5xx rate", "id": "rate"}])
        );
        assert_eq!(
            body["widgets"][1],
            json!({"type": "text", "x": 12, "y": 0, "width": 12, "height": 2, "properties": {"markdown": "# Morket"}})
        );
        assert_eq!(body["widgets"][2]["type"], "alarm");
        // Read back (keys in another order, as AWS may keep them): the same widgets.
        let text = serde_json::to_string_pretty(&body).unwrap();
        let back: Vec<Widget> = serde_json::from_value(
            serde_json::from_str::<Value>(&text).unwrap()["widgets"].clone(),
        )
        .unwrap();
        assert_eq!(back, d.widgets);
        // A widget no typed form reproduces is kept as JSON.
        let mut odd = body["widgets"][0].clone();
        odd["properties"]["yAxis"] = json!({"left": {"min": 0}});
        let w: Widget = serde_json::from_value(odd.clone()).unwrap();
        assert_eq!(w, Widget::Json(odd));
        let log = json!({"type": "log", "width": 24, "height": 6, "properties": {"query": "fields @message"}});
        assert_eq!(
            serde_json::from_value::<Widget>(log.clone()).unwrap(),
            Widget::Json(log)
        );
    }

    #[test]
    fn an_unknown_value_keeps_the_body_unknown() {
        let d = Dashboard::new("morket", vec![alb_widget(Input::Unknown)]);
        assert!(d.check().is_ok(), "a preview checks what it can");
        let e = d.body().unwrap_err().to_string();
        assert!(e.contains("widgets"), "{e}");
        // The inputs round-trip through state with the unknown in place.
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(serde_json::from_value::<Dashboard>(v).unwrap(), d);
    }

    #[test]
    fn validation_names_field_and_value() {
        let bad = |d: Dashboard| d.check().unwrap_err().to_string();
        let e = bad(Dashboard::new("morket dash", vec![]));
        assert!(
            e.contains("dashboard_name") && e.contains("morket dash"),
            "{e}"
        );
        let e = bad(Dashboard::new("d", vec![Widget::text(20, 0, 6, 2, "x")]));
        assert!(e.contains("widgets[0].x") && e.contains("20"), "{e}");
        let e = bad(Dashboard::new("d", vec![Widget::text(0, 0, 30, 2, "x")]));
        assert!(e.contains("widgets[0].width") && e.contains("30"), "{e}");
        let mut w = alb_widget("lb".into());
        if let Widget::Typed(p) = &mut w {
            if let WidgetBody::Metric(m) = &mut p.properties {
                m.metrics[0] = m.metrics[0].clone().with(|o| o.stat = Some("Mean".into()));
            }
        }
        let e = bad(Dashboard::new("d", vec![w]));
        assert!(
            e.contains("widgets[0].properties.metrics[0].stat") && e.contains("Mean"),
            "{e}"
        );
        let e = bad(Dashboard::new(
            "d",
            vec![Widget::alarms(
                0,
                0,
                6,
                6,
                "a",
                vec!["arn:aws:sns:eu-west-1:1:t".into()],
            )],
        ));
        assert!(
            e.contains("widgets[0].properties.alarms[0]") && e.contains("sns"),
            "{e}"
        );
    }
}
