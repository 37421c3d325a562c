// Asset templates (a form per vertical and code, built from the rules the server serves at
// /asset-templates/rules) and assets.
import { call, Decimal, isDecimal, DECIMAL_PATTERN } from '../api.js';
import { h, replace, field, form, table, when, select, fieldError } from '../dom.js';
import { nameOf } from '../app.js';

const page = (query) => ({ ...query, limit: 100 });
const actingQuery = (ctx) => (ctx.root && ctx.acting ? { institutionId: ctx.acting } : {});

/** The create forms need one institution: the key's, or the one root picked. */
function needsInstitution(ctx) {
  return ctx.root && !ctx.acting ? h('p', { class: 'hint' }, 'Pick an institution in the header to create here.') : null;
}

export async function templates(ctx, main) {
  const result = await call('listTemplates', { query: page(actingQuery(ctx)) });
  const parts = [h('h1', {}, 'Asset templates'),
    table('Asset templates', [
      ['Name', (t) => t.name], ['Code', (t) => t.code], ['Vertical', (t) => t.vertical],
      ['Region', (t) => t.region], ['Institution', (t) => nameOf(t.institutionId)],
      ['Config', (t) => h('code', {}, JSON.stringify(t.config))], ['Created', (t) => when(t.createdAt)],
    ], result.data, 'No templates yet.')];
  if (ctx.canWrite) parts.push(needsInstitution(ctx) || templateForm(ctx, main));
  replace(main, parts);
  ctx.onLive((event) => { if (event.type === 'asset_template.created') templates(ctx, main); });
}

function templateForm(ctx, main) {
  const { rules } = ctx;
  const inst = ctx.institutions.find((i) => i.id === ctx.acting);
  const verticals = rules.verticals.filter((v) => !inst || inst.verticals.includes(v));
  const regions = rules.regions.filter((r) => !inst || inst.regions.includes(r));
  const name = h('input', { name: 'name', required: true, maxLength: 255 });
  const vertical = select(verticals, { name: 'vertical' });
  const code = h('select', { name: 'code' });
  const region = select(regions, { name: 'region' });
  const config = h('fieldset', { class: 'config', 'data-for': 'config' }, h('legend', {}, 'Config'));
  let inputs = [];
  const codeRules = () => rules.codes.find((c) => c.code === code.value);
  const fillCodes = () => {
    replace(code, rules.codes.filter((c) => c.vertical === vertical.value).map((c) => h('option', { value: c.code }, c.code)));
    fillConfig();
  };
  const fillConfig = () => {
    inputs = codeRules().fields.map((rule) => [rule, configInput(rule, rules, region.value)]);
    replace(config, h('legend', {}, `Config for ${code.value}`),
      inputs.map(([rule, input]) => field(`${rule.key}${rule.required ? '' : ' (optional)'}`, input, { name: `config.${rule.key}`, hint: hintFor(rule) })),
      h('p', { class: 'field-error', hidden: true }));
  };
  vertical.addEventListener('change', fillCodes);
  code.addEventListener('change', fillConfig);
  region.addEventListener('change', fillConfig);
  fillCodes();
  return form('New asset template', [
    field('Name', name, { name: 'name' }), field('Vertical', vertical, { name: 'vertical' }),
    field('Code', code, { name: 'code' }), field('Region', region, { name: 'region' }), config,
  ], 'Create template', async (el) => {
    const values = {};
    let ok = true;
    for (const [rule, input] of inputs) {
      const problem = checkValue(rule, input.value.trim());
      if (problem) { fieldError(el, `config.${rule.key}`, problem); ok = false; continue; }
      if (input.value.trim() !== '') values[rule.key] = rule.numeric ? new Decimal(input.value.trim()) : input.value.trim();
    }
    for (const c of codeRules().constraints) {
      const [low, high] = [values[c.low], values[c.high]];
      if (low && high && Number(low.text) > Number(high.text)) { fieldError(el, `config.${c.low}`, `Must be at most ${c.high}.`); ok = false; }
    }
    if (!ok) return;
    const body = { name: name.value.trim(), vertical: vertical.value, code: code.value, region: region.value, config: values };
    if (ctx.root) body.institutionId = ctx.acting;
    try {
      await call('createTemplate', { body, quiet: true });
    } catch (error) {
      error.detailsField = 'config';
      throw error;
    }
    await templates(ctx, main);
  });
}

function configInput(rule, rules, region) {
  switch (rule.kind) {
    case 'currency': return select(rules.currencies, { name: rule.key });
    case 'templateRegion': return h('input', { name: rule.key, value: region, readOnly: true });
    case 'text': return h('input', { name: rule.key, required: rule.required });
    default: return h('input', { name: rule.key, inputMode: 'decimal', pattern: DECIMAL_PATTERN, required: rule.required });
  }
}

function hintFor(rule) {
  if (rule.kind === 'templateRegion') return 'Always the template region.';
  if (!rule.numeric) return '';
  const bounds = [];
  if (rule.minimum !== undefined) bounds.push(`at least ${rule.minimum}`);
  if (rule.exclusiveMinimum !== undefined) bounds.push(`more than ${rule.exclusiveMinimum}`);
  if (rule.maximum !== undefined) bounds.push(`at most ${rule.maximum}`);
  return `A number${bounds.length ? `, ${bounds.join(' and ')}` : ''}.`;
}

/** The problem with one config value per its rule (bounds from the server's rules). */
function checkValue(rule, text) {
  if (text === '') return rule.required ? 'Required.' : null;
  if (!rule.numeric) return null;
  if (!isDecimal(text)) return 'Enter a decimal number such as 30 or 12.5.';
  const n = Number(text);
  if (rule.minimum !== undefined && n < Number(rule.minimum)) return `Must be at least ${rule.minimum}.`;
  if (rule.exclusiveMinimum !== undefined && n <= Number(rule.exclusiveMinimum)) return `Must be more than ${rule.exclusiveMinimum}.`;
  if (rule.maximum !== undefined && n > Number(rule.maximum)) return `Must be at most ${rule.maximum}.`;
  return null;
}

export async function assets(ctx, main) {
  const query = page(actingQuery(ctx));
  const [result, tmpls] = await Promise.all([call('listAssets', { query }), call('listTemplates', { query })]);
  const templateName = (id) => (tmpls.data.find((t) => t.id === id) || { name: id }).name;
  const parts = [h('h1', {}, 'Assets'),
    table('Assets', [
      ['Label', (a) => a.label], ['Template', (a) => templateName(a.templateId)],
      ['Institution', (a) => nameOf(a.institutionId)], ['Id', (a) => h('code', {}, a.id)], ['Created', (a) => when(a.createdAt)],
    ], result.data, 'No assets yet.')];
  if (ctx.canWrite) {
    if (needsInstitution(ctx)) parts.push(needsInstitution(ctx));
    else if (!tmpls.data.length) parts.push(h('p', { class: 'hint' }, 'Create a template first.'));
    else {
      const template = select(tmpls.data.map((t) => [t.id, `${t.name} (${t.code}, ${t.region})`]), { name: 'templateId' });
      const label = h('input', { name: 'label', required: true, maxLength: 255 });
      parts.push(form('New asset', [field('Template', template, { name: 'templateId' }), field('Label', label, { name: 'label' })],
        'Create asset', async () => {
          const body = { templateId: template.value, label: label.value.trim() };
          if (ctx.root) body.institutionId = ctx.acting;
          await call('createAsset', { body, quiet: true });
          await assets(ctx, main);
        }));
    }
  }
  replace(main, parts);
  ctx.onLive((event) => { if (event.type === 'asset.created') assets(ctx, main); });
}
