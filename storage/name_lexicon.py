"""Word lists for spotting people's names (storage/identifiers.py), loaded on first use.

Common first names in Quebec across generations (and common English and newcomers' first
names), common Quebec and English surnames, and capitalised words that are never a client's
name in a case summary: places, peoples, days and months, diseases named after a person, and
the first names that are also ordinary words (« Grâce à… », "Hope", « Claire »), which count
only next to a surname or a title. Every word is lower case, accents kept.
"""

from __future__ import annotations

FIRST_NAMES = """
ginette huguette jocelyne lise louise monique francine nicole diane denise pierrette gisèle
thérèse yvette lucille jeannine jeannette georgette rita cécile colette gaétane raymonde
madeleine micheline claudette suzanne carmen murielle réjeanne rollande rolande simone
solange fernande yolande annette jacqueline marielle laurette aline noëlla rachel lorraine
johanne danielle sylvie nathalie julie isabelle chantal manon line lyne josée lucie martine
carole linda marie anne céline hélène ghislaine françoise marthe jeanne marguerite gabrielle
germaine berthe alice emma florence louisette pauline paulette véronique karine mélanie
geneviève stéphanie caroline annie marie-claude marie-josée marie-ève marie-pier
marie-hélène marie-france marie-andrée marie-soleil anne-marie julie-anne valérie catherine
émilie audrey vanessa kim cindy jessica amélie mélissa jennifer sarah sara andréanne roxanne
myriam maude joannie kathy cynthia isabel sophie marilyn sabrina patricia nancy brigitte
josiane marjorie élise justine camille laurie laurence noémie ariane frédérique alexandra
rosalie léa zoé chloé charlotte béatrice éloïse clara mia livia maëlle juliette maya ève
victoria mégane alicia lily sofia anaïs léonie delphine virginie marianne claudia jacinthe
nadia nadine sonia sandra tanya guylaine denyse renée estelle édith odette lucienne
gilberte henriette irène adrienne yvonne bernadette gertrude marcelle éliane mireille
danièle lynda sylvianne nancy kathleen jessie jennyfer vicky mylène marylène karelle kelly
ashley samantha émy emy rose-marie marie-lou marie-jeanne romy alexia clémence laurianne
élodie coralie daphnée ophélie jasmine florianne mathilde adèle anna elsa eva hannah
réjean gaétan réal normand gilles yvon jean-guy jean-pierre jean-marc jean-claude
jean-paul jean-françois jean-philippe jean-sébastien pierre-luc pierre-olivier pierre-marc
marc-andré marc-antoine louis-philippe charles-antoine charles-olivier jean-michel jean-yves
jean-louis jean-luc jean-charles jean-denis jean-noël jean-marie jean-nicolas jean-christophe
jean guy pierre paul jacques michel andré claude denis daniel alain serge roger robert
richard raymond marcel roland lucien laurent léo léon henri georges gérard gérald fernand
maurice armand émile lionel rosaire ghislain germain florent conrad fabien benoît benoit
sylvain stéphane martin françois luc marc patrick éric eric sébastien mathieu matthieu
maxime alexandre simon jonathan kevin keven steve steeve dany danny jimmy jérôme frédéric
nicolas guillaume vincent olivier philippe david dominic dominique yannick mario sylvio carl
francis tommy billy pascal yves gilbert bruno hugo félix william thomas samuel gabriel
nathan noah liam jacob logan raphaël arthur louis édouard charles antoine zachary zack loïc
anthony alexis justin nolan théo jules adam elliot hubert xavier mathis jérémie jérémy rémi
réginald rodrigue ronald reynald renald rénald gaston aurèle adélard wilfrid ovila aldège
martial dylan tristan cédric émilien régis hugues yvan ivan rené roméo donat léandre
marius ludovic mikaël michaël mickaël jordan jeremy kaven keaven dave david-alexandre
étienne mathis éloi émeric adrien bastien benjamin christophe damien fabrice gabin
jocelyn jocelin ghislain donald ronnie eddy rodrigue denys yvan réginald clovis
wilfried normande yvette christiane claudine liliane lucette marjolaine marlène michèle
paule viviane armande aurélie bianca cassandra cloé éléonore évelyne flavie gaëlle héloïse
laurie-anne léanne léane lorie maélie maëlie maëly maïka malia marika marilou mélodie mila
naomie noélie rébecca sandrine sarah-maude stella talia thalia josette gemma renelle
jayden jaxon jérémie joël kylian lyam loïk louka lucas luka mathys matis mathéo mattéo
maverick milan nathaniel noé rayan sacha félix-antoine marc-olivier jean-félix aurélien
bernard cyrille florian grégoire gustave hervé honoré joachim julien léopold norbert
octave patrice quentin régent rodolphe romain thierry ulysse valentin victorien évens

john james michael william joseph christopher matthew anthony steven andrew joshua kenneth
brian george timothy edward jason jeffrey ryan gary nicholas stephen larry scott brandon
gregory alexander raymond dennis jerry tyler aaron jose henry douglas peter kyle ethan
walter harold keith terry sean austin lawrence jesse bryan joe bruce albert willie alan juan
wayne ralph randy eugene russell elijah bobby philip johnny bob jim mike tom dave chris matt
tony nick joey rick ron ken greg jeff tim mary jennifer elizabeth barbara susan karen lisa
betty margaret kimberly emily donna michelle carol amanda dorothy deborah rebecca sharon
laura amy angela shirley brenda pamela helen samantha katherine christine debra carolyn
janet maria heather ruth joyce lauren christina joan evelyn judith megan andrea cheryl
martha gloria teresa ann madison frances kathryn janice abigail judy sophia marilyn
beverly natalie theresa diana brittany doris kayla lori peggy maggie jenny kate katie beth
tracy wendy jill dianne bonnie gail connie shannon tiffany jacob emily chloe olivia sophie
ella grace-ann jacqueline trevor travis derek darren shane brent curtis jamie leslie
raj priya anjali ravi amit sunita arjun deepak neha wei mei ling fatima aisha amina mariam
leila leïla yasmine yasmina samira karim mohamed mohammed mohammad ahmed ali omar youssef
amir hassan hussein khaled rachid nabil mamadou moussa fatou aminata jean-baptiste
wilson-jean jean-robert jean-ricot fritz ricardo carlos luis miguel ana sofía jorge diego
"""

SURNAMES = """
tremblay gagnon roy côté bouchard gauthier morin lavoie fortin gagné ouellet ouellette
pelletier bélanger lévesque bergeron leblanc paquette girard simard boucher caron beaulieu
cloutier dubé poirier fournier lapointe leclerc lefebvre poulin thibault thibodeau st-pierre
nadeau landry martel bédard grenier lessard bernier michaud hébert desjardins couture
turcotte lachance blais gosselin savard proulx beaudoin demers perreault boudreau lemieux
cyr perron dufour dion mercier bolduc bérubé boivin langlois ménard paré charbonneau vachon
charlebois lavallée lalonde labelle thériault tardif arsenault villeneuve rousseau guay
lemay lacroix lebel bisson lévêque carrier brassard gingras vallée chabot guérin
robitaille deschênes larouche desrosiers labbé marcoux sirois giroux rioux fontaine duval
lambert rivard daigle laroche drouin dumont moreau vézina audet dupuis plante pépin goulet
lauzon lacasse trudel lamontagne lemire laplante legault marchand pilon bourque cormier
arseneault doucet belzile tessier brisson bourgeois beauchamp coulombe lajoie larivière
houle poitras massé trottier vaillancourt st-onge beauregard dionne gendron nguyen tran
pham haddad khoury cohen levy singh patel wong chen smith brown wilson macdonald mcdonald
johnson williams jones taylor anderson thompson campbell stewart clark murphy o'brien
robinson walker miller davis moore jackson harris lewis allen adams nelson mitchell
roberts turner phillips evans collins edwards morris murray reid fraser graham wallace
mackenzie mclean sinclair ferguson bilodeau laflamme gervais dufresne ouimet lalande
lavigne lussier messier provencher rheault robillard sauvé séguin sénécal therrien
thibeault vigneault boily bouffard brunet charron chartrand chevalier cousineau
desrochers dussault fafard fillion gaudreault giguère grégoire hamel jolicoeur
lamarre lanctôt lapierre laquerre leduc lepage lortie major mathieu pichette plourde
rochon roussel st-laurent tanguay vallières veilleux
"""

# First names that are also ordinary capitalised words, months or brands: a name only next
# to a surname, a title or a word such as « sa fille ».
AMBIGUOUS_FIRST_NAMES = """
france rose claire grâce grace hope faith joy may june april avril mai noël will bill mark
pat art sue don rich miles chase hunter christian frank constance prudence patience aurore
blanche juste modeste parfait ange aimé désiré fidèle dawn summer autumn sky angel destiny
crystal amber iris violet holly ivy sandy marin rusty sterling cash real august victor
"""

# Capitalised words that are not a person's name where a rule would otherwise read one (before
# « , 82 ans », after « la jeune », beside a surname).
NOT_NAMES = """
québec quebec montréal montreal laval gatineau longueuil sherbrooke saguenay lévis
trois-rivières terrebonne repentigny brossard drummondville granby blainville mirabel
shawinigan rimouski victoriaville châteauguay sorel-tracy joliette rouyn-noranda val-d'or
alma sept-îles baie-comeau matane gaspé chicoutimi jonquière rivière-du-loup amos thetford
magog cowansville chibougamau roberval dolbeau manawan wendake kahnawake kanesatake
mashteuiatsh mauricie estrie outaouais montérégie lanaudière laurentides abitibi gaspésie
côte-nord bas-saint-laurent nunavik charlevoix beauce capitale-nationale verdun rosemont
hochelaga ahuntsic lachine lasalle outremont westmount pointe-claire hudson ottawa toronto
vancouver canada ontario alberta manitoba haïti syrie liban maroc algérie tunisie congo
cameroun sénégal mexique colombie chine inde vietnam viêt nam hanoï ukraine afghanistan
iran irak gujarat boston floride florida europe afrique asie amérique
québécois québécoise québécoises montréalais montréalaise canadien canadienne canadiens
canadiennes autochtone autochtones innu innue innus atikamekw inuk inuit cri crie cris
mohawk algonquin abénakis wendat haïtien haïtienne syrien syrienne marocain marocaine
français française africain africaine asiatique latino quebecer quebecers canadian
canadians indigenous métis
lundi mardi mercredi jeudi vendredi samedi dimanche janvier février mars juin juillet août
septembre octobre novembre décembre monday tuesday wednesday thursday friday saturday sunday
january february march july september october november december
dieu noël pâques alzheimer parkinson huntington asperger crohn tourette down
usager usagère client cliente patient patiente résident résidente bénéficiaire femme homme
dame monsieur madame garçon fille enfant bébé adolescent adolescente jeune aîné aînée
participant participante famille situation madame monsieur sc ed ps
x y z untel unetelle
"""

# Words after which a capitalised word is a person's name: kin, roles, and « surnommé ».
KIN_WORDS = """
fille fils mère père mari épouse époux femme conjoint conjointe chum blonde frère sœur
soeur demi-frère demi-sœur grand-mère grand-père grand-maman grand-papa petit-fils
petite-fille oncle tante neveu nièce cousin cousine voisin voisine ami amie copain copine
colocataire coloc beau-père belle-mère beau-frère belle-sœur gendre bru parrain marraine
jeune petit petite bébé ado adolescent adolescente enfant garçon fillette dame usager
usagère client cliente patient patiente résident résidente bénéficiaire participant
participante aîné aînée cadet cadette jumeau jumelle nommé nommée prénommé prénommée
surnommé surnommée appelé appelée appelle appellent famille dénommé dénommée
son daughter mother father husband wife partner brother sister grandson granddaughter
grandmother grandfather grandma grandpa aunt uncle nephew niece neighbour neighbor friend
boyfriend girlfriend roommate young little baby named called nicknamed family
"""

# Two-word names of shops and chains that read as a first name and a surname.
BRANDS = ("Jean Coutu", "Tim Hortons", "Jean-Coutu")


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())
