// @vitest-environment happy-dom
/** The renderer's shared parts: the table, the labelled select, the choice with a fallback, the card. */
import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { defineComponent, h, nextTick, ref } from 'vue'
import type { Component } from 'vue'
import DataTable from '../../../src/renderer/src/components/DataTable.vue'
import LabelledSelect from '../../../src/renderer/src/components/LabelledSelect.vue'
import Panel from '../../../src/renderer/src/components/Panel.vue'
import { useChoice } from '../../../src/renderer/src/choice'
import type { Column } from '../../../src/renderer/src/table'

interface Row {
  id: string
  name: string
  score: number | null
  ci: { value: number; lo: number; hi: number }
}
const rows: Row[] = [
  { id: 'r1', name: 'alpha', score: 0.5, ci: { value: 0.8, lo: 0.7, hi: 0.9 } },
  { id: 'r2', name: 'beta', score: null, ci: { value: 0.6, lo: 0.55, hi: 0.65 } }
]
const columns: Column<Row>[] = [
  { key: 'name', label: 'Name', head: true, sortable: true, text: (r) => r.name },
  {
    key: 'score',
    label: 'Score',
    num: true,
    sortable: true,
    text: (r) => (r.score === null ? '—' : r.score.toFixed(2))
  },
  { key: 'ci', label: 'Test', num: true, ci: (r) => r.ci },
  { key: 'tag', label: 'Tag' }
]

/** Mounts the (generic) table with rows of type Row. */
const table = (props: Record<string, unknown>, slots: Record<string, unknown> = {}) =>
  mount(DataTable as Component, { props, slots })

describe('DataTable', () => {
  it('draws a header per column and a row per item: text, intervals, slots, row headers and right-aligned numbers', () => {
    const w = table(
      { columns, rows, selected: 'r2', rowTest: 'row', 'data-test': 'the-table' },
      { 'cell-tag': ({ row }: { row: Row }) => h('em', row.name.toUpperCase()) }
    )
    expect(w.find('table').attributes('data-test')).toBe('the-table')
    expect(w.findAll('thead th').map((t) => t.text())).toEqual(['Name', 'Score', 'Test', 'Tag'])
    const body = w.findAll('tbody tr')
    expect(body.map((r) => r.attributes('data-test'))).toEqual(['row', 'row'])
    expect(body.map((r) => r.find('th').text())).toEqual(['alpha', 'beta'])
    expect(body.map((r) => r.findAll('td').map((c) => c.text()))).toEqual([
      ['0.50', '0.800[0.700, 0.900]', 'ALPHA'],
      ['—', '0.600[0.550, 0.650]', 'BETA']
    ])
    expect(body[0].findAll('td')[0].classes()).toContain('num')
    expect(body.map((r) => r.classes().includes('selected'))).toEqual([false, true])
  })

  it('marks the sorted column, reports header clicks of sortable columns only, and a picked row', async () => {
    const w = table({ columns, rows, sortKey: 'score', direction: 'asc' })
    const heads = w.findAll('thead th')
    expect(heads.map((t) => t.text())).toEqual(['Name', 'Score ▲', 'Test', 'Tag'])
    expect(heads[1].classes()).toEqual(expect.arrayContaining(['sortable', 'sorted', 'num']))
    await heads[0].trigger('click')
    await heads[2].trigger('click')
    expect(w.emitted('sort')).toEqual([['name']])
    await w.findAll('tbody tr')[1].trigger('click')
    expect(w.emitted('pick')).toEqual([[rows[1]]])
    await w.setProps({ direction: 'desc' })
    expect(w.findAll('thead th')[1].text()).toBe('Score ▼')
  })

  it('says its sentence instead of an empty table, and shows the empty table without one', () => {
    const empty = table({ columns, rows: [], empty: 'Nothing yet.' })
    expect(empty.find('table').exists()).toBe(false)
    expect(empty.find('p.muted').text()).toBe('Nothing yet.')
    const bare = table({ columns, rows: [] })
    expect(bare.findAll('thead th')).toHaveLength(4)
    expect(bare.findAll('tbody tr')).toHaveLength(0)
  })
})

describe('LabelledSelect', () => {
  it('passes other attributes to the select, and a parent binding follows its choice', async () => {
    const Parent = defineComponent({
      setup() {
        const pick = ref('b')
        return () =>
          h('div', [
            h(LabelledSelect, {
              id: 'x',
              label: 'Pick',
              'aria-label': 'The pick',
              options: [
                { id: 'a', label: 'Alpha' },
                { id: 'b', label: 'Beta' }
              ],
              value: pick.value,
              onChoose: (v: string) => (pick.value = v)
            }),
            h('output', pick.value)
          ])
      }
    })
    const w = mount(Parent)
    expect(w.find('#x').attributes('aria-label')).toBe('The pick')
    expect(w.find('label').attributes('aria-label')).toBeUndefined()
    expect((w.find('#x').element as HTMLSelectElement).value).toBe('b')
    await w.find('#x').setValue('a')
    expect(w.find('output').text()).toBe('a')
    expect((w.find('#x').element as HTMLSelectElement).value).toBe('a')
  })

  it('offers its `none` sentence as the only choice when there is nothing to choose', () => {
    const w = mount(LabelledSelect, { props: { id: 'y', label: 'Run', value: '', options: [], none: 'No run yet' } })
    expect(w.findAll('option').map((o) => [o.attributes('value'), o.text()])).toEqual([['', 'No run yet']])
  })
})

describe('useChoice', () => {
  it("reads the user's choice while it is valid, else the fallback, and follows the options", async () => {
    const options = ref(['a', 'b', 'c'])
    const choice = useChoice(
      (id) => options.value.includes(id),
      () => options.value[0] ?? ''
    )
    expect(choice.value).toBe('a')
    choice.value = 'c'
    expect(choice.value).toBe('c')
    options.value = ['a', 'b']
    await nextTick()
    expect(choice.value).toBe('a')
    options.value = ['a', 'b', 'c']
    expect(choice.value).toBe('c')
    options.value = []
    expect(choice.value).toBe('')
  })
})

describe('Panel', () => {
  it('shows its heading, controls and content, or the sentence why there is none', async () => {
    const w = mount(Panel, {
      props: { title: 'Loss' },
      slots: { default: '<p class="content">chart</p>', controls: '<button>Go</button>' }
    })
    expect(w.find('h2').text()).toBe('Loss')
    expect(w.find('.row button').text()).toBe('Go')
    expect(w.find('.content').exists()).toBe(true)
    await w.setProps({ empty: 'No loss recorded yet.' })
    expect(w.find('.content').exists()).toBe(false)
    expect(w.find('p.muted').text()).toBe('No loss recorded yet.')
  })
})
